package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/flowlytix/licensing/clientlib"
	"github.com/flowlytix/licensing/license"
)

// appFlags are the flags that open an app's license cache on the offline
// machine: the same settings the app opens it with.
type appFlags struct {
	cache, appID, jwks, root, deviceID, fingerprint, product *string
}

func addAppFlags(fs *flag.FlagSet) appFlags {
	return appFlags{
		cache:       fs.String("cache", "", "the app's license cache (its SQLite file; close the app first) (required)"),
		appID:       fs.String("app-id", "", "the app's id, as the app is configured with (required)"),
		jwks:        fs.String("jwks", "", "the public key set the app embeds (licensectl keys jwks)"),
		root:        fs.String("root", "", "or the root key set the app pins (licensectl root jwks)"),
		deviceID:    fs.String("device-id", "", "the device id, when the app sets its own (default: derived from the machine, as the app does)"),
		fingerprint: fs.String("fingerprint", "", "the raw device fingerprint, when the app sets its own"),
		product:     fs.String("product", "", "the product code the app is configured with"),
	}
}

func (f appFlags) open(ctx context.Context) (*clientlib.Client, error) {
	if *f.cache == "" || *f.appID == "" {
		return nil, usagef("--cache and --app-id are required")
	}
	if *f.jwks == "" && *f.root == "" {
		return nil, usagef("--jwks or --root is required: the keys the app verifies with")
	}
	if _, err := os.Stat(*f.cache); err != nil {
		return nil, usagef("--cache %s: %v", *f.cache, err)
	}
	cfg := clientlib.Config{AppID: *f.appID, CachePath: *f.cache, DeviceID: *f.deviceID, Fingerprint: *f.fingerprint, Product: *f.product}
	var err error
	if *f.jwks != "" {
		if cfg.JWKS, err = readInput(*f.jwks, 1<<20); err != nil {
			return nil, err
		}
	}
	if *f.root != "" {
		if cfg.RootJWKS, err = readInput(*f.root, 1<<20); err != nil {
			return nil, err
		}
	}
	return clientlib.Open(ctx, cfg)
}

// sync is the air-gapped exchange: request and import on the offline
// machine, upload where the admin API is reachable.
func (e *env) sync(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("sync request|import|upload; run licensectl help")
	}
	switch args[0] {
	case "request":
		return e.syncRequest(ctx, args[1:])
	case "import":
		return e.syncImport(ctx, args[1:])
	case "upload":
		return e.syncUpload(ctx, args[1:])
	}
	return usagef("unknown sync command %q: request, import or upload", args[0])
}

func (e *env) syncRequest(ctx context.Context, args []string) error {
	fs := e.newFlags("sync request", "sync request --cache FILE --app-id ID (--jwks FILE | --root FILE) --out FILE")
	app := addAppFlags(fs)
	out := fs.String("out", "", `where to write the sync request, "-" for stdout (required)`)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "out"); err != nil {
		return err
	}
	c, err := app.open(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	usage, heartbeats, err := c.Pending(ctx)
	if err != nil {
		return err
	}
	file, err := c.SyncRequest(ctx)
	if err != nil {
		return err
	}
	if err := e.writeOutput(*out, file); err != nil {
		return err
	}
	if *out != "-" {
		fmt.Fprintf(e.stdout, "wrote %s (%d usage events, %d heartbeats; at most %d events a file): send it to your vendor, then import the sync response they return with licensectl sync import\n",
			*out, min(usage, license.MaxExchangeUsage), min(heartbeats, license.MaxExchangeHeartbeats), license.MaxExchangeUsage)
	}
	return nil
}

func (e *env) syncImport(ctx context.Context, args []string) error {
	fs := e.newFlags("sync import", "sync import --cache FILE --app-id ID (--jwks FILE | --root FILE) RESPONSE")
	app := addAppFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("give the sync response file to import")
	}
	file, err := readInput(pos[0], license.MaxExchangeFileSize)
	if err != nil {
		return err
	}
	c, err := app.open(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	rep, err := c.ImportSyncResponse(ctx, file)
	if err != nil {
		return err
	}
	if rep.Stale {
		fmt.Fprintf(e.stdout, "older than a response imported before: only its acknowledgements applied (%d events)\n", rep.Acknowledged)
		return nil
	}
	fmt.Fprintf(e.stdout, "imported: the server says %s as of %s\n", rep.Status, rep.ServerTime.UTC().Format(time.RFC3339))
	fmt.Fprintf(e.stdout, "  %d usage events and %d heartbeats acknowledged, %d set aside (refused by the server), %d new revocation entries\n",
		rep.Acknowledged, rep.Heartbeats, rep.Rejected, rep.Revocations)
	if rep.NewLicense {
		fmt.Fprintln(e.stdout, "  a newer license file is installed")
	}
	if rep.RefusedFile != nil {
		fmt.Fprintf(e.stdout, "  the newer license file was not installed: %v\n", rep.RefusedFile)
	}
	res := c.Check()
	fmt.Fprintf(e.stdout, "license: %s", res.Status)
	if res.Reason != "" {
		fmt.Fprintf(e.stdout, " (%s)", res.Reason)
	}
	fmt.Fprintln(e.stdout)
	return nil
}

func (e *env) deactivate(ctx context.Context, args []string) error {
	fs := e.newFlags("deactivate", "deactivate --cache FILE --app-id ID (--jwks FILE | --root FILE) --out RECEIPT")
	app := addAppFlags(fs)
	out := fs.String("out", "", "where to write the deactivation receipt (required)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "out"); err != nil {
		return err
	}
	if *out != "-" {
		// The receipt is the only record of the queued usage once the
		// license is gone: the path must take it before anything changes.
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return usagef("--out: %v", err)
		}
		f.Close()
	}
	c, err := app.open(ctx)
	if err != nil {
		if *out != "-" {
			os.Remove(*out)
		}
		return err
	}
	defer c.Close()
	receipt, err := c.DeactivateOffline(ctx)
	if err != nil {
		if *out != "-" {
			os.Remove(*out)
		}
		return err
	}
	if err := e.writeOutput(*out, receipt); err != nil {
		return fmt.Errorf("the license is removed, but the receipt could not be written (%w); here it is:\n%s", err, receipt)
	}
	if *out != "-" {
		fmt.Fprintf(e.stdout, "the license is removed from this machine; send %s to your vendor to free its seat\n", *out)
	}
	return nil
}

func (e *env) syncUpload(ctx context.Context, args []string) error {
	fs := e.newFlags("sync upload", "sync upload --server URL FILE [--out RESPONSE]   (the token in LICENSED_TOKEN)")
	server := fs.String("server", "", "licensed's base URL, e.g. https://licensing.example.com (required)")
	out := fs.String("out", "", "where to write the sync response (default: sync-response.txt beside the request)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := required(fs, "server"); err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("give the sync request or deactivation receipt to upload")
	}
	token := os.Getenv("LICENSED_TOKEN")
	if token == "" {
		return usagef("set LICENSED_TOKEN to an admin API token (licensed token create); it is not taken on the command line, where other users could read it")
	}
	file, err := readInput(pos[0], license.MaxExchangeFileSize)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(*server, "/")+"/api/v1/offline/sync", bytes.NewReader(file))
	if err != nil {
		return usagef("--server: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "text/plain")
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, license.MaxExchangeFileSize+1))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var apiErr struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(body, &apiErr) == nil && apiErr.Error.Message != "" {
			return fmt.Errorf("the server refused it (%d %s): %s", resp.StatusCode, apiErr.Error.Code, apiErr.Error.Message)
		}
		return fmt.Errorf("the server answered %s", resp.Status)
	}
	var res struct {
		Kind               string `json:"kind"`
		DeviceID           string `json:"device_id"`
		Accepted           int    `json:"accepted"`
		Duplicates         int    `json:"duplicates"`
		Heartbeats         int    `json:"heartbeats"`
		Rejected           []any  `json:"rejected"`
		Deactivated        bool   `json:"deactivated"`
		AlreadyDeactivated bool   `json:"already_deactivated"`
		ResponseFile       string `json:"response_file"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return fmt.Errorf("the server's answer is not JSON: %w", err)
	}
	fmt.Fprintf(e.stdout, "%s from %s: %d usage events stored, %d held already, %d heartbeats, %d rows refused\n",
		strings.ReplaceAll(res.Kind, "_", " "), res.DeviceID, res.Accepted, res.Duplicates, res.Heartbeats, len(res.Rejected))
	switch {
	case res.Deactivated:
		fmt.Fprintln(e.stdout, "the device's seat is free")
	case res.AlreadyDeactivated:
		fmt.Fprintln(e.stdout, "the device's seat was free already")
	}
	if res.ResponseFile == "" {
		return nil
	}
	path := *out
	if path == "" {
		path = "sync-response.txt"
		if pos[0] != "-" {
			path = strings.TrimSuffix(pos[0], ".txt") + ".response.txt"
		}
	}
	if err := e.writeOutput(path, []byte(res.ResponseFile)); err != nil {
		return err
	}
	if path != "-" {
		fmt.Fprintf(e.stdout, "wrote %s: send it back to be imported on the machine (licensectl sync import, or the app)\n", path)
	}
	return nil
}
