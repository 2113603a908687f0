// Package redisurl reads the Redis addresses a gateway is configured with
// (BFF_REDIS_URL and the partner gateway's idempotency Redis) into the
// options of go-redis's universal client. One URL names one of three
// topologies, told apart by its scheme:
//
//	redis://[user:pass@]host:6379[/db]                  one server
//	redis-sentinel://[user:pass@]s1:26379[/db]?master_name=shopfront&addr=s2:26379&addr=s3:26379
//	redis-cluster://[user:pass@]n1:7000?addr=n2:7001&addr=n3:7002
//
// and the same with rediss, rediss-sentinel and rediss-cluster for TLS.
// Past the scheme, each form is go-redis's own URL (redis.ParseURL,
// ParseFailoverURL, ParseClusterURL), parsed by go-redis: extra seed nodes
// or sentinels are repeated addr parameters. With Sentinel, the user and
// password of the URL authenticate to the sentinels; the data nodes take
// theirs from the username and password parameters.
//
// Only the parameters listed in Params are accepted: the timeouts and
// retries are the gateway's to set (Redis sits on the request path), and a
// parameter that would be silently overridden is refused instead.
package redisurl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Topology is the kind of Redis deployment a URL names.
type Topology string

// The topologies, one per scheme family.
const (
	Single   Topology = "single"
	Sentinel Topology = "sentinel"
	Cluster  Topology = "cluster"
)

// Params returns the query parameters a URL of topology t may carry.
func Params(t Topology) []string {
	common := []string{"client_name", "protocol", "pool_size", "min_idle_conns", "max_idle_conns",
		"conn_max_idle_time", "conn_max_lifetime"}
	switch t {
	case Sentinel:
		return append(common, "addr", "master_name", "db", "username", "password")
	case Cluster:
		return append(common, "addr")
	default:
		return common
	}
}

// Parse reads raw into the options of a universal client and the topology
// it names. Its errors never quote raw, which may hold a password.
func Parse(raw string) (*redis.UniversalOptions, Topology, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes the whole URL, password included.
		return nil, "", errors.New("is not a URL (redis://host:port/db, redis-sentinel://..., redis-cluster://...)")
	}
	base, topo, ok := strings.Cut(u.Scheme, "-")
	if base != "redis" && base != "rediss" {
		return nil, "", errors.New("is not a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL")
	}
	t := Single
	if ok {
		t = Topology(topo)
		if t != Sentinel && t != Cluster {
			return nil, "", errors.New("is not a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL")
		}
	}
	if err := checkNode(u.Host); err != nil {
		return nil, "", err
	}
	q := u.Query()
	allowed := Params(t)
	for name := range q {
		if !slices.Contains(allowed, name) {
			return nil, "", fmt.Errorf("has the parameter %q, which a %s URL does not take (allowed: %s)",
				name, u.Scheme, strings.Join(allowed, ", "))
		}
	}
	for _, a := range q["addr"] {
		if err := checkNode(a); err != nil {
			return nil, "", fmt.Errorf("addr parameter: %w", err)
		}
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		if t == Cluster {
			return nil, "", errors.New("has a database, but Redis Cluster has only database 0")
		}
		if n, err := strconv.Atoi(db); err != nil || n < 0 {
			return nil, "", errors.New("has a database that is not a number (redis://host:port/db)")
		}
	}
	if t == Sentinel && q.Get("master_name") == "" {
		return nil, "", errors.New("names no master: add ?master_name=<the name the sentinels monitor>")
	}
	// From here go-redis parses what is left; its messages name a bad
	// parameter value, never the userinfo.
	u.Scheme = base
	o, err := parse(t, u.String())
	if err != nil {
		return nil, "", errors.New(strings.TrimPrefix(err.Error(), "redis: "))
	}
	return o, t, nil
}

func parse(t Topology, raw string) (*redis.UniversalOptions, error) {
	switch t {
	case Sentinel:
		o, err := redis.ParseFailoverURL(raw)
		if err != nil {
			return nil, err
		}
		return &redis.UniversalOptions{
			Addrs: o.SentinelAddrs, MasterName: o.MasterName, DB: o.DB,
			SentinelUsername: o.SentinelUsername, SentinelPassword: o.SentinelPassword,
			Username: o.Username, Password: o.Password, TLSConfig: o.TLSConfig,
			Protocol: o.Protocol, ClientName: o.ClientName, PoolSize: o.PoolSize,
			MinIdleConns: o.MinIdleConns, MaxIdleConns: o.MaxIdleConns,
			ConnMaxIdleTime: o.ConnMaxIdleTime, ConnMaxLifetime: o.ConnMaxLifetime,
		}, nil
	case Cluster:
		o, err := redis.ParseClusterURL(raw)
		if err != nil {
			return nil, err
		}
		return &redis.UniversalOptions{
			// One seed is enough to learn the others: IsClusterMode keeps
			// a single address from making a one-server client.
			Addrs: o.Addrs, IsClusterMode: true,
			Username: o.Username, Password: o.Password, TLSConfig: o.TLSConfig,
			Protocol: o.Protocol, ClientName: o.ClientName, PoolSize: o.PoolSize,
			MinIdleConns: o.MinIdleConns, MaxIdleConns: o.MaxIdleConns,
			ConnMaxIdleTime: o.ConnMaxIdleTime, ConnMaxLifetime: o.ConnMaxLifetime,
		}, nil
	default:
		o, err := redis.ParseURL(raw)
		if err != nil {
			return nil, err
		}
		return &redis.UniversalOptions{
			Addrs: []string{o.Addr}, DB: o.DB,
			Username: o.Username, Password: o.Password, TLSConfig: o.TLSConfig,
			Protocol: o.Protocol, ClientName: o.ClientName, PoolSize: o.PoolSize,
			MinIdleConns: o.MinIdleConns, MaxIdleConns: o.MaxIdleConns,
			ConnMaxIdleTime: o.ConnMaxIdleTime, ConnMaxLifetime: o.ConnMaxLifetime,
		}, nil
	}
}

// checkNode accepts host or host:port with a host and, when given, a port
// in 1-65535.
func checkNode(hostport string) error {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port: a bare name or a bracketed IPv6 address.
		host = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
		if strings.ContainsAny(host, ":[]") && !strings.HasPrefix(hostport, "[") {
			return errors.New("has an address that is not host:port")
		}
	}
	if host == "" {
		return errors.New("names no host")
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return errors.New("has a port outside 1-65535")
		}
	}
	return nil
}

// Ping reports whether the deployment behind rdb can serve every key: for
// a Redis Cluster, whether every primary answers, since each key lives on
// one of them and a ping to whichever node the client picks would hide a
// shard that is down; otherwise whether the one server (with Sentinel, the
// current master) answers. ctx bounds the whole check.
func Ping(ctx context.Context, rdb redis.UniversalClient) error {
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return c.Ping(ctx).Err()
		})
	}
	return rdb.Ping(ctx).Err()
}
