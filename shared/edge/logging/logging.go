// Package logging builds Shopfront's zap JSON logger and the redaction
// helpers every call site uses before a header, URL or body reaches a log.
package logging

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Levels are the accepted values of BFF_LOG_LEVEL.
func Levels() []string { return []string{"debug", "info", "warn", "error"} }

// ParseLevel parses one of Levels; "" means info. Config loaders call it to
// validate BFF_LOG_LEVEL once at start-up.
func ParseLevel(s string) (zapcore.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return zapcore.InfoLevel, nil
	case "debug":
		return zapcore.DebugLevel, nil
	case "info":
		return zapcore.InfoLevel, nil
	case "warn":
		return zapcore.WarnLevel, nil
	case "error":
		return zapcore.ErrorLevel, nil
	}
	return zapcore.InfoLevel, fmt.Errorf("parsing log level %q: want one of %s", s, strings.Join(Levels(), ", "))
}

// New returns a JSON logger at level writing to w (os.Stdout when nil).
// Lines carry `time` (RFC 3339 UTC with milliseconds), `level`, `msg`,
// `caller` and the fields given. Unlike zap.NewProduction it does not sample
// (an access line per request must never be dropped) and keeps stack traces
// for panics only (an upstream 502 is not a programming error).
func New(level string, w io.Writer) (*zap.Logger, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	if w == nil {
		w = os.Stdout
	}
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "time"
	enc.MessageKey = "msg"
	enc.LevelKey = "level"
	enc.EncodeTime = encodeTime
	enc.EncodeDuration = zapcore.MillisDurationEncoder
	atomic := zap.NewAtomicLevelAt(lvl)
	core := levelCore{Core: zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(zapcore.AddSync(w)), atomic), level: atomic}
	return zap.New(core, zap.AddCaller(), zap.AddStacktrace(zapcore.DPanicLevel),
		zap.ErrorOutput(zapcore.Lock(zapcore.AddSync(os.Stderr)))), nil
}

// encodeTime writes RFC 3339 in UTC with milliseconds: sortable, and the
// same in every container whatever its TZ.
func encodeTime(t time.Time, enc zapcore.PrimitiveArrayEncoder) {
	enc.AppendString(t.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
}

// levelCore carries the level a logger of New was built with, so that the
// admin listener can change it at run time (LevelOf) without the level
// being threaded through every constructor between main and the server.
type levelCore struct {
	zapcore.Core
	level zap.AtomicLevel
}

// With keeps the level reachable from loggers derived with fields.
func (c levelCore) With(fields []zapcore.Field) zapcore.Core {
	return levelCore{Core: c.Core.With(fields), level: c.level}
}

// Check must be the wrapper's: the embedded core's Check would register
// the embedded core, and fields added by a later With would be lost.
func (c levelCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

// LevelOf returns the run-time level of a logger made by New (or derived
// from one with With or Named), or false for any other logger.
func LevelOf(log *zap.Logger) (zap.AtomicLevel, bool) {
	if c, ok := log.Core().(levelCore); ok {
		return c.level, true
	}
	return zap.AtomicLevel{}, false
}
