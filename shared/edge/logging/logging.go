// Package logging builds Shopfront's zap JSON logger and the redaction
// helpers every call site uses before a header, URL or body reaches a log.
package logging

import (
	"errors"
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

// New returns a JSON logger at level writing to w (os.Stdout when nil),
// every line written as it is logged. Lines carry `time` (RFC 3339 UTC with
// milliseconds), `level`, `msg`, `caller` and the fields given. Unlike
// zap.NewProduction it does not sample (an access line per request must
// never be dropped) and keeps stack traces for panics only (an upstream 502
// is not a programming error).
func New(level string, w io.Writer) (*zap.Logger, error) {
	log, _, err := Config{Level: level, Writer: w}.Build()
	return log, err
}

// DefaultFlushInterval is how long a gateway process holds the lines of
// loggers made Buffered before writing them.
const DefaultFlushInterval = 100 * time.Millisecond

// DefaultBufferSize is how many bytes of such lines it holds at most.
const DefaultBufferSize = 32 << 10

// Config configures a logger as New makes it, with the option of holding
// the lines of Buffered loggers (the access log) in memory for a moment.
type Config struct {
	// Level is one of Levels. Optional. Default info.
	Level string
	// Writer receives the lines. Optional. Default os.Stdout.
	Writer io.Writer
	// FlushInterval, when positive, lets the info and debug lines of
	// loggers made with Buffered wait in memory, for at most this long or
	// until BufferSize bytes are held, and be written together: one write
	// per line is a system call per request. Any other line (every line of
	// a logger not made Buffered, and every warning or error) writes what
	// is held with it at once, so the order of lines is kept. What a crash
	// can lose is what is held: the access lines of at most the last
	// FlushInterval. The close function Build returns writes it out.
	// Optional. Default 0: every line is written as it is logged.
	FlushInterval time.Duration
	// BufferSize caps the bytes held. Optional. Default DefaultBufferSize.
	BufferSize int
}

// Build returns the logger and the function that writes out what it holds
// and stops its flushing; call it once the logger is no longer used (it
// does nothing when FlushInterval is 0).
func (c Config) Build() (*zap.Logger, func() error, error) {
	lvl, err := ParseLevel(c.Level)
	if err != nil {
		return nil, nil, err
	}
	w := c.Writer
	if w == nil {
		w = os.Stdout
	}
	if c.FlushInterval < 0 || c.BufferSize < 0 {
		return nil, nil, fmt.Errorf("logging: FlushInterval (%s) and BufferSize (%d) must not be negative", c.FlushInterval, c.BufferSize)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "time"
	enc.MessageKey = "msg"
	enc.LevelKey = "level"
	enc.EncodeTime = encodeTime
	enc.EncodeDuration = zapcore.MillisDurationEncoder
	atomic := zap.NewAtomicLevelAt(lvl)
	ws := zapcore.AddSync(w)
	closeFn := func() error { return nil }
	var held *zapcore.BufferedWriteSyncer
	if c.FlushInterval > 0 {
		size := c.BufferSize
		if size == 0 {
			size = DefaultBufferSize
		}
		// The periodic flush only writes: an fsync of stdout every tick
		// would be a system call for nothing on a pipe or a terminal.
		held = &zapcore.BufferedWriteSyncer{WS: writeOnly{ws}, Size: size, FlushInterval: c.FlushInterval}
		closeFn = func() error { return errors.Join(held.Stop(), ws.Sync()) }
		ws = held
	} else {
		ws = zapcore.Lock(ws)
	}
	core := levelCore{Core: zapcore.NewCore(zapcore.NewJSONEncoder(enc), ws, atomic), level: atomic, held: held}
	return zap.New(core, zap.AddCaller(), zap.AddStacktrace(zapcore.DPanicLevel),
		zap.ErrorOutput(zapcore.Lock(zapcore.AddSync(os.Stderr)))), closeFn, nil
}

// Buffered returns log for lines that may wait in memory when the logger
// was built with a FlushInterval (see Config): the access log, a line per
// request. Its warnings and errors are still written at once. Any other
// logger is returned as it is.
func Buffered(log *zap.Logger) *zap.Logger {
	return log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		if lc, ok := c.(levelCore); ok && lc.held != nil {
			lc.buffered = true
			return lc
		}
		return c
	}))
}

// writeOnly is a WriteSyncer whose Sync does nothing.
type writeOnly struct{ zapcore.WriteSyncer }

func (writeOnly) Sync() error { return nil }

// timeLayout is the layout of every line's time: UTC, milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// encodeTime writes t in timeLayout. Every log and access-log line has a
// time, so it is formatted by hand: time.Format interprets the layout on
// each call, which was a third of an access-log line's cost.
func encodeTime(t time.Time, enc zapcore.PrimitiveArrayEncoder) {
	enc.AppendByteString(appendTime(make([]byte, 0, len("2006-01-02T15:04:05.000Z")), t))
}

// appendTime appends t as time.Format(timeLayout) formats it.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timeLayout)
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / int(time.Millisecond)
	b = append(b,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
	return b
}

// levelCore carries the level a logger of New was built with, so that the
// admin listener can change it at run time (LevelOf) without the level
// being threaded through every constructor between main and the server.
type levelCore struct {
	zapcore.Core
	level zap.AtomicLevel
	// held is the buffer of a logger built with a FlushInterval, nil
	// otherwise; buffered marks a core made by Buffered, whose info and
	// debug lines may stay in it.
	held     *zapcore.BufferedWriteSyncer
	buffered bool
}

func (c levelCore) With(fields []zapcore.Field) zapcore.Core {
	return levelCore{Core: c.Core.With(fields), level: c.level, held: c.held, buffered: c.buffered}
}

func (c levelCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

// Write writes the line, and then whatever is held with it unless the line
// itself may wait.
func (c levelCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	err := c.Core.Write(e, fields)
	if c.held != nil && (!c.buffered || e.Level >= zapcore.WarnLevel) {
		err = errors.Join(err, c.held.Sync())
	}
	return err
}

// LevelOf returns the run-time level of a logger made by New (or derived
// from one with With or Named), or false for any other logger.
func LevelOf(log *zap.Logger) (zap.AtomicLevel, bool) {
	if c, ok := log.Core().(levelCore); ok {
		return c.level, true
	}
	return zap.AtomicLevel{}, false
}
