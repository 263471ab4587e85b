// Command drdrill-workload is the one binary behind the small workload images the kind tests
// run (built by testbed/kind/build.sh, no registry):
//
//	drdrill-workload serve        a model server: /healthz at once, /readyz after READY_AFTER
//	drdrill-workload never-ready  a model server whose /readyz never passes (says why)
//	drdrill-workload crash        exits 1 after CRASH_AFTER (a CrashLoopBackOff once restarted)
//	drdrill-workload once         exits 0 after RUN_FOR (a Job that succeeds)
//
// PORT (default 8080), READY_AFTER / CRASH_AFTER / RUN_FOR are Go durations (default 3s / 1s / 1s).
// With DATA_DIR set, serve first writes DATA_DIR/served-by (a model cache on a volume) and exits 1
// when it cannot, so a pod with an unwritable or missing volume never becomes Ready.
package main

import (
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func duration(name string, fallback time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			fmt.Fprintf(os.Stderr, "drdrill-workload: %s=%q is not a duration: %v\n", name, v, err)
			os.Exit(2)
		}
		return d
	}
	return fallback
}

// writeMarker proves the data volume is writable: it writes and reads back DATA_DIR/served-by.
func writeMarker() {
	dir := os.Getenv("DATA_DIR")
	if dir == "" {
		return
	}
	host, _ := os.Hostname()
	path := filepath.Join(dir, "served-by")
	want := fmt.Sprintf("%s %s\n", host, time.Now().UTC().Format(time.RFC3339))
	if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "drdrill-workload: fatal: DATA_DIR not writable: %v\n", err)
		os.Exit(1)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != want {
		fmt.Fprintf(os.Stderr, "drdrill-workload: fatal: %s does not read back: %v\n", path, err)
		os.Exit(1)
	}
	fmt.Printf("drdrill-workload: wrote %s\n", path)
}

func serve(ready func() (bool, string)) {
	writeMarker()
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := ready()
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, why)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "{\"model\": %q, \"status\": \"serving\"}\n", os.Getenv("MODEL_NAME"))
	})
	server := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		<-stop
		_ = server.Close()
	}()
	fmt.Printf("drdrill-workload: listening on :%s\n", port)
	if err := server.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintf(os.Stderr, "drdrill-workload: %v\n", err)
		os.Exit(1)
	}
}

func main() {
	mode := "serve"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	switch mode {
	case "serve":
		readyAt := time.Now().Add(duration("READY_AFTER", 3*time.Second))
		serve(func() (bool, string) {
			if left := time.Until(readyAt); left > 0 {
				return false, fmt.Sprintf("loading model weights: ready in %s", left.Round(time.Second))
			}
			return true, "ready"
		})
	case "never-ready":
		serve(func() (bool, string) {
			return false, "model weights not loaded: /models/model.bin missing"
		})
	case "crash":
		time.Sleep(duration("CRASH_AFTER", time.Second))
		fmt.Fprintln(os.Stderr, "drdrill-workload: fatal: cannot open /models/model.bin (simulated crash)")
		os.Exit(1)
	case "once":
		time.Sleep(duration("RUN_FOR", time.Second))
		fmt.Println("drdrill-workload: batch done")
	default:
		fmt.Fprintf(os.Stderr, "drdrill-workload: unknown mode %q (serve, never-ready, crash, once)\n", mode)
		os.Exit(2)
	}
}
