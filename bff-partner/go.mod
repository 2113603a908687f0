module github.com/shopfront/bff-partner

go 1.26.8

require (
	github.com/shopfront/contracts v0.0.0
	github.com/shopfront/shared v0.0.0
)

replace github.com/shopfront/contracts => ../contracts

replace github.com/shopfront/shared => ../shared
