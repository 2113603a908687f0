package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/shopfront/bff-partner/internal/config"
	"github.com/shopfront/shared/edge/metrics"
)

// Defaults of WriterConfig.
const (
	DefaultFlushInterval = time.Second
	// sweepInterval is how often old files are looked for besides start-up
	// and each day's rotation, so a quiet gateway still deletes them daily.
	sweepInterval = time.Hour
	// maxKeptLine is the largest encoding buffer kept between lines.
	maxKeptLine = 64 << 10
)

// WriterConfig configures the audit file writer.
type WriterConfig struct {
	// Dir holds the audit-YYYY-MM-DD.jsonl files; it is created if needed.
	// Required.
	Dir string
	// Retention is how long files are kept, by the date in their name.
	// Optional. Default 90 days.
	Retention time.Duration
	// FlushInterval is how often buffered lines reach the file. Optional.
	// Default 1 s.
	FlushInterval time.Duration
	// Now is the clock. Optional. Default time.Now.
	Now func() time.Time
	// Logger reports write failures. Optional. Default no logs.
	Logger *zap.Logger
	// Registry receives shopfront_audit_write_failures_total. Optional.
	// Default none (counted but not exported).
	Registry prometheus.Registerer
}

// Writer appends entries as JSON lines to one file per UTC day, buffered,
// and deletes files older than the retention. It is safe for concurrent use.
type Writer struct {
	cfg WriterConfig
	mu  sync.Mutex
	// date is the UTC day of the open file, compared without formatting
	// it for every line.
	date civilDate
	file *os.File
	buf  *bufio.Writer
	// line and enc encode one entry at a time, under mu: one buffer and
	// one encoder for the writer's life instead of a pair per line.
	line bytes.Buffer
	enc  *json.Encoder

	closed bool

	// failures counts entries or flushes that did not reach the disk;
	// lastErr is the latest outcome, reported by Status (nil once a
	// write succeeds again).
	failures prometheus.Counter
	lastErr  atomic.Pointer[error]

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

var fileName = regexp.MustCompile(`^audit-(\d{4}-\d{2}-\d{2})\.jsonl$`)

// Open prepares the directory, deletes expired files and starts the
// background flush and sweep. Close stops it.
func Open(cfg WriterConfig) (*Writer, error) {
	if cfg.Dir == "" {
		return nil, errors.New("audit: Dir is required")
	}
	if cfg.Retention == 0 {
		cfg.Retention = config.DefaultRetention
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.Retention < 0 || cfg.FlushInterval < 0 {
		return nil, errors.New("audit: Retention and FlushInterval must not be negative")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating audit dir: %w", err)
	}
	w := &Writer{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shopfront_audit_write_failures_total",
			Help: "Audit entries or flushes of bff-partner that could not be written (a full or failing disk); the requests were served regardless.",
		})}
	if cfg.Registry != nil {
		var err error
		if w.failures, err = metrics.Register(cfg.Registry, w.failures); err != nil {
			return nil, fmt.Errorf("registering audit metrics: %w", err)
		}
	}
	w.enc = json.NewEncoder(&w.line)
	// Queries keep their & and bodies their < > as sent, readable by grep.
	w.enc.SetEscapeHTML(false)
	if _, err := w.Sweep(); err != nil {
		return nil, err
	}
	go w.loop()
	return w, nil
}

func (w *Writer) loop() {
	defer close(w.done)
	flush := time.NewTicker(w.cfg.FlushInterval)
	defer flush.Stop()
	sweep := time.NewTicker(sweepInterval)
	defer sweep.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-flush.C:
			if err := w.Flush(); err != nil {
				w.cfg.Logger.Error("flushing audit log", zap.Error(err))
			}
		case <-sweep.C:
			if _, err := w.Sweep(); err != nil {
				w.cfg.Logger.Error("deleting old audit files", zap.Error(err))
			}
		}
	}
}

// Status reports the latest write's failure, nil when it succeeded: the
// gateway's /readyz shows it (an optional check: requests are served
// while the audit cannot be written, see docs/bff-partner.md).
func (w *Writer) Status(context.Context) error {
	if p := w.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// outcome counts a failure and remembers the latest outcome for Status.
func (w *Writer) outcome(err error) error {
	if err != nil {
		return w.failed(err)
	}
	w.lastErr.Store(nil)
	return nil
}

// failed is outcome's failure path, apart so that only a failure moves its
// error to the heap (the pointer Status reads), not every written line.
func (w *Writer) failed(err error) error {
	w.failures.Inc()
	w.lastErr.Store(&err)
	return err
}

// Write appends one entry to the file of its UTC day.
func (w *Writer) Write(e Entry) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.outcome(w.write(e))
}

// write is Write with w.mu held.
func (w *Writer) write(e Entry) error {
	if w.line.Cap() > maxKeptLine {
		// One large body's line is not held for the writer's life.
		w.line = bytes.Buffer{}
	} else {
		w.line.Reset()
	}
	if err := w.enc.Encode(e); err != nil {
		return fmt.Errorf("encoding audit entry: %w", err)
	}
	line := w.line.Bytes() // Encode ends it with '\n'.
	utc := e.Time.UTC()
	if date := dateOf(utc); date != w.date || w.file == nil {
		if err := w.rotate(date, utc.Format(time.DateOnly)); err != nil {
			return err
		}
	}
	if _, err := w.buf.Write(line); err != nil {
		// A bufio.Writer keeps its first error for good: start the file
		// afresh, so that writing resumes once the disk has room.
		_ = w.closeFile()
		return fmt.Errorf("writing audit entry: %w", err)
	}
	if w.closed {
		// A straggler after Close: nothing flushes later, so write through.
		return w.closeFile()
	}
	return nil
}

// rotate closes the current file and opens the file of date (formatted as
// day); w.mu is held.
func (w *Writer) rotate(date civilDate, day string) error {
	if err := w.closeFile(); err != nil {
		w.cfg.Logger.Error("closing audit file", zap.Error(err))
	}
	f, err := os.OpenFile(filepath.Join(w.cfg.Dir, "audit-"+day+".jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("opening audit file: %w", err)
	}
	w.date, w.file, w.buf = date, f, bufio.NewWriterSize(f, 64<<10)
	go func() {
		// A new day is also when the oldest day expires.
		if _, err := w.Sweep(); err != nil {
			w.cfg.Logger.Error("deleting old audit files", zap.Error(err))
		}
	}()
	return nil
}

// civilDate is a UTC day.
type civilDate struct {
	year  int
	month time.Month
	day   int
}

func dateOf(t time.Time) civilDate {
	y, m, d := t.Date()
	return civilDate{y, m, d}
}

func (w *Writer) closeFile() error {
	if w.file == nil {
		return nil
	}
	ferr := w.buf.Flush()
	serr := w.file.Sync()
	cerr := w.file.Close()
	w.file, w.buf, w.date = nil, nil, civilDate{}
	return errors.Join(ferr, serr, cerr)
}

// Flush moves buffered lines to the file.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf == nil {
		return nil
	}
	if err := w.buf.Flush(); err != nil {
		// The buffered lines are lost; the file is reopened by the next
		// write (see write).
		_ = w.closeFile()
		return w.outcome(fmt.Errorf("flushing audit file: %w", err))
	}
	return nil
}

// Sweep deletes the files whose day is older than the retention and
// returns their names.
func (w *Writer) Sweep() ([]string, error) {
	entries, err := os.ReadDir(w.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("listing audit dir: %w", err)
	}
	cutoff := w.cfg.Now().UTC().Add(-w.cfg.Retention)
	var deleted []string
	var errs []error
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			continue
		}
		day, err := time.Parse(time.DateOnly, m[1])
		if err != nil {
			continue
		}
		// A file holds its whole day: it expires when its last instant does.
		if day.Add(24 * time.Hour).Before(cutoff) {
			if err := os.Remove(filepath.Join(w.cfg.Dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("deleting audit file: %w", err))
				continue
			}
			deleted = append(deleted, e.Name())
		}
	}
	return deleted, errors.Join(errs...)
}

// Close stops the background work and flushes, syncs and closes the file.
// It is meant for server.OnShutdown, after in-flight requests finished.
func (w *Writer) Close(_ context.Context) error {
	w.once.Do(func() { close(w.stop) })
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return w.closeFile()
}
