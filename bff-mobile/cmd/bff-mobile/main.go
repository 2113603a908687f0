// Command bff-mobile is Shopfront's mobile gateway. Its configuration
// comes from the environment; SIGINT or SIGTERM drain it and it
// exits 0, invalid configuration prints one line per problem and exits 2.
package main

import (
	"github.com/shopfront/bff-mobile/internal/app"
	"github.com/shopfront/bff-mobile/internal/config"
	"github.com/shopfront/shared/edge/gateway"
)

func main() { gateway.Main(app.Name, config.Load, app.New) }
