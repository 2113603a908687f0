// Command bff-web is Shopfront's web gateway. Its configuration
// comes from the environment; SIGINT or SIGTERM drain it and it
// exits 0, invalid configuration prints one line per problem and exits 2.
package main

import (
	"github.com/shopfront/bff-web/internal/app"
	"github.com/shopfront/bff-web/internal/config"
	"github.com/shopfront/shared/edge/gateway"
)

func main() { gateway.Main(app.Name, config.Load, app.New) }
