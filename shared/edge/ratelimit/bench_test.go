package ratelimit_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/shopfront/shared/edge/edgetest"
	"github.com/shopfront/shared/edge/ratelimit"
)

// BenchmarkStore measures one decision of each store, in parallel over
// 1000 keys.
func BenchmarkStore(b *testing.B) {
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i)
	}
	lim := ratelimit.Limit{Rate: 1 << 30, Burst: 1 << 30}
	run := func(b *testing.B, s ratelimit.Store) {
		var n atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Allow(context.Background(), keys[n.Add(1)%int64(len(keys))], lim); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.Run("memory", func(b *testing.B) { run(b, ratelimit.NewMemoryStore(0, nil)) })
	b.Run("redis", func(b *testing.B) {
		rd := edgetest.StartRedis(b)
		lim, err := ratelimit.New(ratelimit.LimiterConfig{Redis: client(b, rd)})
		if err != nil {
			b.Fatal(err)
		}
		var n atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				lim.Allow(context.Background(), ratelimit.Bucket{Policy: "user", Key: keys[n.Add(1)%int64(len(keys))], Limit: ratelimit.Limit{Rate: 1 << 30, Burst: 1 << 30}})
			}
		})
		b.StopTimer()
		if err := lim.Status(context.Background()); err != nil {
			b.Fatalf("decisions fell back to the local store: %v", err)
		}
	})
}
