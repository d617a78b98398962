// Command octane-import puts CI results written to disk (JUnit XML reports and YAML/JSON
// build manifests) into OpenText ALM Octane as CI servers, pipelines, builds and test runs.
//
// Exit status: 0 when every file was imported (or had nothing to do), 1 when some files
// failed, 2 for a usage or configuration error.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr *os.File) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// A second signal ends the process at once. The ledger stays consistent: every
		// change to it is a completed transaction or none.
		<-ctx.Done()
		stop()
		second := make(chan os.Signal, 1)
		signal.Notify(second, os.Interrupt, syscall.SIGTERM)
		<-second
		os.Exit(130)
	}()
	app := newApp(stdout, stderr)
	return app.execute(ctx, args)
}
