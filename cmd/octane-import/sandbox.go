package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/octane-import/octane-import/sandbox"
)

func (a *app) sandboxCommand() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "sandbox [--listen ADDR]",
		Short: "Serve a stand-in Octane (API and a read-only web page) to point the importer at",
		Long: `sandbox serves the same strict stand-in Octane that --sandbox runs in-process, as a server that
keeps running: point a configuration at it, import, and look at the servers, pipelines, builds
and test runs in a browser. It keeps everything in memory and forgets it when it stops.`,
		Example: `  octane-import sandbox --listen 127.0.0.1:8080
  # then, in a configuration file:
  #   targets:
  #     - name: sandbox
  #       url: http://127.0.0.1:8080
  #       shared_space: "1001"
  #       workspace: "1002"
  #       client_id: sandbox-client
  #       client_secret: ${env:OCTANE_CLIENT_SECRET}   # sandbox-secret`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := sandbox.Options{Logger: a.logger}
			srv := sandbox.New(opts)
			o := srv.Options()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			url := "http://" + ln.Addr().String()
			fmt.Fprintf(a.stdout, "Sandbox Octane listening on %s\n  shared space %s, workspace %s, API key %s / %s\n  open %s/ in a browser to see what it holds; Ctrl-C stops it.\n",
				url, o.SharedSpace, o.Workspace, o.Credentials[0].ID, o.Credentials[0].Secret, url)
			hs := &http.Server{Handler: srv}
			go func() {
				<-cmd.Context().Done()
				hs.Close()
			}()
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on")
	return cmd
}
