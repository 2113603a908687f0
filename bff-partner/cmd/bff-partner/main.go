// Command bff-partner is Shopfront's partner gateway. Its configuration
// comes from the environment; SIGINT or SIGTERM drain it and it
// exits 0, SIGHUP reloads the partner keys file, invalid configuration
// prints one line per problem and exits 2.
package main

import (
	"github.com/shopfront/bff-partner/internal/app"
	"github.com/shopfront/bff-partner/internal/config"
	"github.com/shopfront/shared/edge/gateway"
)

func main() { gateway.Main(app.Name, config.Load, app.New) }
