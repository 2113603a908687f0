module github.com/shopfront/bff-web

go 1.26.8

require (
	github.com/shopfront/contracts v0.0.0
	github.com/shopfront/shared v0.0.0
)

require (
	github.com/andybalholm/brotli v1.3.0 // indirect
	github.com/chromedp/cdproto v0.159.0 // indirect
	github.com/chromedp/chromedp v0.23.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect
)

replace github.com/shopfront/contracts => ../contracts

replace github.com/shopfront/shared => ../shared
