// Command loadgen is the etcd anchor of the RaftKV benchmark: closed-loop put or get load
// on an etcd cluster through etcd's own Go client (clientv3), in a process of its own, so
// the client's CPU is neither shared with nor charged to the Node bench process.
//
// The workload is the one bench/workload.ts runs against RaftKV: `conc` workers, each
// issuing its next operation as soon as the previous one returns, keys "key00000".."keyN"
// drawn uniformly from `keys`, printable values of `value-bytes` bytes, linearizable gets
// (clientv3's default, ReadIndex on the server). After `warmup-ms` completions are counted
// and their latencies recorded for `duration-ms`; then workers stop issuing and the
// in-flight operations finish. Latencies go into the same log-bucketed histogram (1%
// buckets) as the Node harness, so percentiles are computed the same way.
//
// Clients: `clients` clientv3 clients, client i dialing only endpoints[i % len(endpoints)]
// (one member per client, as the Node rows do); worker w uses client w % clients.
//
// Output (stdout): with -marks, a line {"mark":"open"} when the measured window opens and
// {"mark":"close"} when it closes (so the caller can sample the servers' CPU over the same
// window); always, last, one JSON line with the result (see type result). Errors before
// the load starts (bad flags, no connection) go to stderr with exit status 2 (flags) or
// 1 (anything else). Built offline in GOPATH mode by bench/etcd/loadgen-build.ts.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	mrand "math/rand"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

type options struct {
	endpoints  []string
	clients    int
	conc       int
	durationMs int
	warmupMs   int
	keys       int
	valueBytes int
	op         string
	seed       int64
	dialMs     int
	opMs       int
	marks      bool
}

// result is the JSON line printed at the end. Times in ms, CPU in seconds.
type result struct {
	Op          string  `json:"op"`
	Conc        int     `json:"conc"`
	Clients     int     `json:"clients"`
	Ops         int64   `json:"ops"`
	Errors      int64   `json:"errors"`
	FirstError  string  `json:"firstError,omitempty"`
	WindowMs    float64 `json:"windowMs"`
	OpsPerSec   float64 `json:"opsPerSec"`
	P50         float64 `json:"p50"`
	P90         float64 `json:"p90"`
	P99         float64 `json:"p99"`
	Max         float64 `json:"max"`
	Mean        float64 `json:"mean"`
	CPUUserSec  float64 `json:"cpuUserSec"`  // this process, user time, measured window only
	CPUSysSec   float64 `json:"cpuSysSec"`   // this process, system time, measured window only
	CPUSec      float64 `json:"cpuSec"`      // user + sys over the measured window
	CPUTotalSec float64 `json:"cpuTotalSec"` // user + sys over the whole process life
}

func parseFlags(args []string) (options, error) {
	var o options
	var endpoints string
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.StringVar(&endpoints, "endpoints", "", "comma-separated host:port of etcd members (client i dials only endpoints[i % n])")
	fs.IntVar(&o.clients, "clients", 1, "clientv3 clients (gRPC connections); worker w uses client w % clients")
	fs.IntVar(&o.conc, "conc", 1, "closed-loop workers")
	fs.IntVar(&o.durationMs, "duration-ms", 10000, "measured window, ms")
	fs.IntVar(&o.warmupMs, "warmup-ms", 2000, "unmeasured load before the window, ms")
	fs.IntVar(&o.keys, "keys", 10000, "key space")
	fs.IntVar(&o.valueBytes, "value-bytes", 64, "bytes per value (put)")
	fs.StringVar(&o.op, "op", "put", "put or get")
	fs.Int64Var(&o.seed, "seed", 1, "seed of the workers' key sequences")
	fs.IntVar(&o.dialMs, "dial-timeout-ms", 10000, "time to connect each client, ms")
	fs.IntVar(&o.opMs, "op-timeout-ms", 10000, "deadline of one operation, ms")
	fs.BoolVar(&o.marks, "marks", false, `print {"mark":"open"} / {"mark":"close"} at the window's edges`)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, e := range strings.Split(endpoints, ",") {
		if e = strings.TrimSpace(e); e != "" {
			o.endpoints = append(o.endpoints, e)
		}
	}
	switch {
	case len(o.endpoints) == 0:
		return o, fmt.Errorf("-endpoints: need at least one host:port")
	case o.op != "put" && o.op != "get":
		return o, fmt.Errorf("-op: put or get (got %q)", o.op)
	case o.clients < 1 || o.conc < 1 || o.keys < 1 || o.valueBytes < 1:
		return o, fmt.Errorf("-clients, -conc, -keys, -value-bytes: must be >= 1")
	case o.durationMs < 1 || o.warmupMs < 0 || o.dialMs < 1 || o.opMs < 1:
		return o, fmt.Errorf("-duration-ms, -dial-timeout-ms, -op-timeout-ms must be >= 1 and -warmup-ms >= 0")
	}
	return o, nil
}

// histogram: log buckets growing by 1% from 1 µs (bench/workload.ts's Histogram); min,
// max and mean exact. One per worker, merged at the end: no locking on the hot path.
const (
	histMin    = 0.001 // ms
	histGrowth = 1.01
)

var histBuckets = int(math.Ceil(math.Log(1e9) / math.Log(histGrowth)))

type histogram struct {
	counts   []uint32
	count    int64
	sum      float64
	min, max float64
}

func newHistogram() *histogram {
	return &histogram{counts: make([]uint32, histBuckets+1), min: math.Inf(1)}
}

func (h *histogram) record(ms float64) {
	v := math.Max(ms, histMin)
	i := int(math.Floor(math.Log(v/histMin) / math.Log(histGrowth)))
	if i > histBuckets {
		i = histBuckets
	}
	h.counts[i]++
	h.count++
	h.sum += ms
	h.min = math.Min(h.min, ms)
	h.max = math.Max(h.max, ms)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.count += o.count
	h.sum += o.sum
	h.min = math.Min(h.min, o.min)
	h.max = math.Max(h.max, o.max)
}

// percentile q (0..1): the midpoint of its bucket, clamped to [min, max]; NaN when empty.
func (h *histogram) percentile(q float64) float64 {
	if h.count == 0 {
		return math.NaN()
	}
	rank := int64(math.Max(1, math.Ceil(q*float64(h.count))))
	var seen int64
	for i, c := range h.counts {
		seen += int64(c)
		if seen >= rank {
			lo := histMin * math.Pow(histGrowth, float64(i))
			return math.Min(h.max, math.Max(h.min, lo*math.Sqrt(histGrowth)))
		}
	}
	return h.max
}

// cpuSeconds: user and system CPU of this whole process (every thread), from getrusage.
func cpuSeconds() (user, sys float64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN(), math.NaN()
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime), tv(ru.Stime)
}

// value: `n` printable bytes.
func value(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// jsonFloat: JSON has no NaN; an empty histogram's percentiles become -1.
func jsonFloat(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return -1
	}
	return x
}

func connect(o options) ([]*clientv3.Client, error) {
	logCfg := zap.NewProductionConfig()
	logCfg.Level = zap.NewAtomicLevelAt(zap.ErrorLevel)
	logCfg.OutputPaths = []string{"stderr"}
	logCfg.ErrorOutputPaths = []string{"stderr"}
	cs := make([]*clientv3.Client, 0, o.clients)
	for i := 0; i < o.clients; i++ {
		ep := o.endpoints[i%len(o.endpoints)]
		c, err := clientv3.New(clientv3.Config{
			Endpoints:   []string{ep},
			DialTimeout: time.Duration(o.dialMs) * time.Millisecond,
			DialOptions: []grpc.DialOption{grpc.WithBlock()},
			LogConfig:   &logCfg,
		})
		if err != nil {
			for _, c := range cs {
				c.Close()
			}
			return nil, fmt.Errorf("client %d to %s: %v", i, ep, err)
		}
		cs = append(cs, c)
	}
	return cs, nil
}

func run(o options, cs []*clientv3.Client) result {
	type workerOut struct {
		h          *histogram
		errors     int64
		firstError string
	}
	outs := make([]workerOut, o.conc)
	start := time.Now()
	measureFrom := start.Add(time.Duration(o.warmupMs) * time.Millisecond)
	measureTo := measureFrom.Add(time.Duration(o.durationMs) * time.Millisecond)
	inWindow := func(t time.Time) bool { return !t.Before(measureFrom) && !t.After(measureTo) }

	// Window edges: CPU samples, and the marks for the caller.
	var edgeMu sync.Mutex
	var u0, s0, u1, s1 float64
	opened, closed := false, false
	openLocked := func() {
		if opened {
			return
		}
		opened = true
		u0, s0 = cpuSeconds()
		if o.marks {
			fmt.Println(`{"mark":"open"}`)
		}
	}
	closeWindow := func() {
		edgeMu.Lock()
		defer edgeMu.Unlock()
		if closed {
			return
		}
		openLocked() // a late open timer must not leave the CPU sample at zero
		closed = true
		u1, s1 = cpuSeconds()
		if o.marks {
			fmt.Println(`{"mark":"close"}`)
		}
	}
	openTimer := time.AfterFunc(time.Until(measureFrom), func() {
		edgeMu.Lock()
		defer edgeMu.Unlock()
		if !closed {
			openLocked()
		}
	})
	closeTimer := time.AfterFunc(time.Until(measureTo), closeWindow)

	var wg sync.WaitGroup
	for w := 0; w < o.conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			out := workerOut{h: newHistogram()}
			defer func() { outs[w] = out }()
			kv := cs[w%len(cs)]
			random := mrand.New(mrand.NewSource(o.seed*7919 + int64(w)))
			val := value(o.valueBytes)
			for {
				t0 := time.Now()
				if !t0.Before(measureTo) {
					return
				}
				key := fmt.Sprintf("key%05d", random.Intn(o.keys))
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(o.opMs)*time.Millisecond)
				var err error
				if o.op == "put" {
					_, err = kv.Put(ctx, key, val)
				} else {
					_, err = kv.Get(ctx, key)
				}
				cancel()
				t1 := time.Now()
				if err != nil {
					if inWindow(t1) {
						out.errors++
						if out.firstError == "" {
							out.firstError = err.Error()
						}
					}
					if t1.Sub(t0) < 5*time.Millisecond {
						time.Sleep(10 * time.Millisecond) // never spin on a fast-failing member
					}
					continue
				}
				if inWindow(t1) {
					out.h.record(ms(t1.Sub(t0)))
				}
			}
		}(w)
	}
	wg.Wait()
	openTimer.Stop()
	closeTimer.Stop()
	closeWindow()

	h := newHistogram()
	var errors int64
	firstError := ""
	for _, out := range outs {
		h.merge(out.h)
		errors += out.errors
		if firstError == "" {
			firstError = out.firstError
		}
	}
	windowMs := math.Min(float64(o.durationMs), math.Max(1, ms(time.Since(measureFrom))))
	uT, sT := cpuSeconds()
	mean, max := math.NaN(), math.NaN()
	if h.count > 0 {
		mean, max = h.sum/float64(h.count), h.max
	}
	return result{
		Op: o.op, Conc: o.conc, Clients: len(cs),
		Ops: h.count, Errors: errors, FirstError: firstError,
		WindowMs: windowMs, OpsPerSec: float64(h.count) * 1000 / windowMs,
		P50: jsonFloat(h.percentile(0.5)), P90: jsonFloat(h.percentile(0.9)), P99: jsonFloat(h.percentile(0.99)),
		Max: jsonFloat(max), Mean: jsonFloat(mean),
		CPUUserSec: u1 - u0, CPUSysSec: s1 - s0, CPUSec: (u1 - u0) + (s1 - s0), CPUTotalSec: uT + sT,
	}
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		}
		os.Exit(2)
	}
	cs, err := connect(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(1)
	}
	r := run(o, cs)
	for _, c := range cs {
		c.Close()
	}
	line, err := json.Marshal(r)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(string(line))
}
