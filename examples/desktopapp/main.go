// Command desktopapp shows how a desktop app uses the client library:
// open the client once at start-up, check the license offline, record
// usage as the user works, sync in the background whenever the server can
// be reached, and gate features on the answer.
//
//	go run ./examples/desktopapp --jwks jwks.json --server http://127.0.0.1:8080 --key FLX-...
//	go run ./examples/desktopapp --jwks jwks.json --import customer.lic      # air-gapped
//	go run ./examples/desktopapp --jwks jwks.json --request FLX-...          # make an activation request
//
// A real app embeds the JWKS with //go:embed instead of reading a file.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/flowlytix/licensing/clientlib"
)

func main() {
	jwksPath := flag.String("jwks", "jwks.json", "the vendor's public key set")
	server := flag.String("server", "", "licensed's URL; empty: offline")
	key := flag.String("key", "", "a license key to activate with")
	importPath := flag.String("import", "", "a license file to import (air-gapped)")
	request := flag.String("request", "", "print an activation request for this license key and exit")
	flag.Parse()
	if err := run(*jwksPath, *server, *key, *importPath, *request); err != nil {
		fmt.Fprintln(os.Stderr, "desktopapp:", err)
		os.Exit(1)
	}
}

func run(jwksPath, server, key, importPath, request string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	jwks, err := os.ReadFile(jwksPath)
	if err != nil {
		return err
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return err
	}
	c, err := clientlib.Open(ctx, clientlib.Config{
		JWKS: jwks, AppID: "com.example.desktopapp", AppVersion: "1.0.0", ServerURL: server,
		CachePath: filepath.Join(dir, "example-desktopapp", "license.db"),
	})
	if err != nil {
		return err // a damaged cache says how to recover: delete it, import or activate again
	}
	defer c.Close()

	switch {
	case request != "":
		req, err := c.ActivationRequest(request)
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(req)
		return err
	case importPath != "":
		file, err := os.ReadFile(importPath)
		if err != nil {
			return err
		}
		if _, err := c.Import(ctx, file); err != nil {
			return err
		}
	case key != "":
		if _, err := c.Activate(ctx, key); err != nil {
			return err
		}
	}

	// Sync in the background; the app never waits for it.
	if server != "" {
		go c.Run(ctx, func(err error) { fmt.Fprintln(os.Stderr, "sync failed (will retry):", err) })
	}

	res := c.Check()
	describe(res)
	if !res.Status.Unlocks() {
		return nil
	}
	// The app works; each export is recorded, durably, with no network.
	for i := 0; i < 3; i++ {
		if res.Claims.HasFeature("export") {
			if err := c.RecordUsage(ctx, "export", 1, 2*time.Second); err != nil {
				return err
			}
			fmt.Println("exported a report")
		}
	}
	if server != "" {
		rep, err := c.Sync(ctx)
		if err != nil {
			fmt.Println("offline for now; usage stays queued:", err)
		} else {
			fmt.Printf("synced: %d events accepted, status %s\n", rep.Accepted, rep.Status)
		}
	}
	return nil
}

// describe shows the user what each outcome means.
func describe(r clientlib.Result) {
	switch r.Status {
	case clientlib.StatusValid:
		fmt.Printf("Licensed (%s), %d days left.\n", r.Claims.Tier, r.DaysRemaining)
	case clientlib.StatusGrace:
		fmt.Printf("Your license has expired; it keeps working for %d more days. Please renew.\n", r.GraceDaysRemaining)
	case clientlib.StatusExpired:
		fmt.Println("Your license has expired. Renew it to continue.")
	case clientlib.StatusNotYetValid:
		fmt.Println("Your license is not valid yet.")
	case clientlib.StatusCheckInRequired:
		fmt.Println("Please connect to the internet so the app can check in.")
	case clientlib.StatusRevoked:
		fmt.Println("This license was revoked or suspended. Contact your vendor.")
	case clientlib.StatusDeviceMismatch:
		fmt.Println("This license belongs to another computer. Activate this one.")
	case clientlib.StatusClockTampered:
		fmt.Println("Your computer's clock is wrong. Correct it and restart.")
	default:
		fmt.Println("No valid license:", r.Reason)
	}
}
