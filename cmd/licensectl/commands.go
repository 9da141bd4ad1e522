package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/flowlytix/licensing/clientlib"
	"github.com/flowlytix/licensing/issuer"
	"github.com/flowlytix/licensing/keys"
	"github.com/flowlytix/licensing/license"
)

func (e *env) keys(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("want a subcommand: keys generate, jwks, promote, retire or revoke")
	}
	switch args[0] {
	case "generate":
		fs := e.newFlags("keys generate", "keys generate --out DIR [--bits 3072] [--next]")
		out := fs.String("out", "", "key directory; created 0700 when missing (required)")
		bits := fs.Int("bits", keys.DefaultBits, fmt.Sprintf("RSA key size, %d to %d", keys.MinBits, keys.MaxBits))
		ifEmpty := fs.Bool("if-empty", false, "do nothing when DIR holds a key already (for start-up scripts); without it a new key is added and becomes the signer")
		next := fs.Bool("next", false, "add the key in state next: published in the JWKS, signing nothing until keys promote; the safe way to rotate")
		if _, err := parse(fs, args[1:]); err != nil {
			return err
		}
		if err := required(fs, "out"); err != nil {
			return err
		}
		if *ifEmpty {
			if ks, err := keys.LoadDir(*out); err == nil && ks.Len() > 0 {
				k, _ := ks.Active()
				if k != nil {
					fmt.Fprintf(e.stdout, "%s holds a key already (kid %s); nothing to do\n", *out, k.ID)
				} else {
					fmt.Fprintf(e.stdout, "%s holds keys already; nothing to do\n", *out)
				}
				return nil
			}
		}
		if *bits < keys.MinBits || *bits > keys.MaxBits {
			return usagef("--bits %d is out of range: want %d to %d (default %d)", *bits, keys.MinBits, keys.MaxBits, keys.DefaultBits)
		}
		before, _ := keys.LoadDir(*out)
		if *next {
			if _, err := before.Active(); err != nil {
				return usagef("%s has no active key to sign while the next one waits: generate the first key without --next", *out)
			}
			k, _, err := (&keys.Dir{Path: *out, Bits: *bits}).Add()
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "generated a %d-bit RSA key in %s\nkid: %s (state next: published, signs nothing yet)\n", *bits, *out, k.ID)
			fmt.Fprintf(e.stdout, "next: ship app builds that embed the new JWKS (licensectl keys jwks --keys %s), then: licensectl keys promote --keys %s %s\n", *out, *out, k.ID)
			return nil
		}
		k, err := keys.GenerateInto(*out, *bits)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "generated a %d-bit RSA key in %s\nkid: %s (now the active signer)\n", *bits, *out, k.ID)
		if before.Len() > 0 {
			fmt.Fprintf(e.stdout, "%d earlier key(s) stay in %s to verify the files they signed\n", before.Len(), *out)
		}
		return nil
	case "jwks":
		return e.printJWKS("keys jwks", "keys", "key directory (required)", args[1:])
	case "endorse":
		return e.endorse(args[1:])
	case "promote", "retire", "revoke":
		change := args[0]
		fs := e.newFlags("keys "+change, "keys "+change+" --keys DIR KID")
		dir := fs.String("keys", "", "key directory (required)")
		// A kid is base64url and may start with "-": every argument that
		// is not --keys or its value is taken as the KID, never as a flag.
		var flags, pos []string
		rest := args[1:]
		for i := 0; i < len(rest); i++ {
			switch a := rest[i]; {
			case a == "--keys" || a == "-keys":
				flags = append(flags, a)
				if i+1 < len(rest) {
					flags = append(flags, rest[i+1])
					i++
				}
			case strings.HasPrefix(a, "--keys=") || strings.HasPrefix(a, "-keys=") || a == "-h" || a == "--help" || a == "-help":
				flags = append(flags, a)
			case a == "--":
				pos = append(pos, rest[i+1:]...)
				i = len(rest)
			default:
				pos = append(pos, a)
			}
		}
		if _, err := parse(fs, flags); err != nil {
			return err
		}
		if err := required(fs, "keys"); err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("keys %s: want exactly one KID (licensectl keys jwks --keys %s lists them)", change, *dir)
		}
		state := map[string]keys.State{"promote": keys.StateActive, "retire": keys.StateRetired, "revoke": keys.StateRevoked}[change]
		if _, err := (&keys.Dir{Path: *dir}).SetState(pos[0], state); err != nil {
			return err
		}
		ks, err := keys.LoadDir(*dir)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "key %s is %s\n", pos[0], ks.Info(pos[0]).State)
		if change == "promote" {
			fmt.Fprintf(e.stdout, "it signs every new file; the key before it retired and keeps verifying\n")
		}
		fmt.Fprintf(e.stdout, "licensed replicas reading %s have it in force at their next key reload (--key-reload-interval, 15 s by default)\n", *dir)
		return nil
	case "-h", "--help", "help":
		fmt.Fprint(e.stderr, "Usage:\n  licensectl keys generate --out DIR [--bits 3072] [--next]\n  licensectl keys jwks --keys DIR\n  licensectl keys promote|retire|revoke --keys DIR KID\n")
		return nil
	default:
		return usagef("unknown subcommand %q: want generate, jwks, promote, retire or revoke", args[0])
	}
}

// parseTime parses an RFC 3339 time, or a bare date (midnight UTC).
func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, usagef("--%s %q is not a time: use RFC 3339 (2027-01-31T00:00:00Z) or a date (2027-01-31)", name, s)
}

func (e *env) issue(ctx context.Context, args []string) error {
	fs := e.newFlags("issue", "issue --keys DIR (--customer-id ... --tier ... | --request FILE) ... --out FILE")
	dir := fs.String("keys", "", "key directory holding the active signer (required)")
	out := fs.String("out", "", `where to write the license file, "-" for stdout (required)`)
	customer := fs.String("customer-id", "", "the customer's id, a UUID (required)")
	tenant := fs.String("tenant-id", "", "the tenant the app should use (default: the customer id)")
	sub := fs.String("subscription-id", "", "the subscription's id, a UUID (default: a new one)")
	tier := fs.String("tier", "", "the tier's name, e.g. basic, professional or enterprise (required)")
	product := fs.String("product", "", "the product's code, e.g. com.acme.editor (default: the default product, flowlytix-app)")
	entitlements := fs.String("entitlements", "", `named values as a JSON object, e.g. '{"projects":10,"sso":true}'`)
	features := fs.String("features", "", "comma-separated feature names, e.g. export,sync")
	maxDevices := fs.Int("max-devices", 0, "seats (required, at least 1)")
	starts := fs.String("starts", "", "RFC 3339 start (default: now)")
	expires := fs.String("expires", "", "RFC 3339 end, before grace (required)")
	grace := fs.Int("grace-days", 0, "days of grace after --expires")
	checkIn := fs.Int("check-in-days", 0, "how often an online app should sync; 0: never asked")
	offline := fs.Int("max-offline-days", 0, "days an app may go without a sync; 0: unlimited (air-gapped)")
	deviceID := fs.String("device-id", "", "bind the file to this device id (with --fingerprint)")
	fingerprint := fs.String("fingerprint", "", "the device's raw fingerprint (hashed into the file)")
	request := fs.String("request", "", "an activation request file: bind the file to the device that made it")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "keys", "out", "customer-id", "tier", "expires"); err != nil {
		return err
	}
	if *maxDevices < 1 {
		return usagef("--max-devices is required and must be at least 1")
	}
	in := issuer.Input{
		SubscriptionID: *sub, CustomerID: *customer, TenantID: *tenant, Tier: *tier, Audience: *product,
		MaxDevices: *maxDevices, GracePeriodDays: *grace, CheckInDays: *checkIn, MaxOfflineDays: *offline,
	}
	if *entitlements != "" {
		m, err := license.ParseEntitlements([]byte(*entitlements))
		if err != nil {
			return usagef("--entitlements: %v", err)
		}
		in.Entitlements = m
	}
	for _, f := range strings.Split(*features, ",") {
		if f = strings.TrimSpace(f); f != "" {
			in.Features = append(in.Features, f)
		}
	}
	var err error
	if in.StartsAt, err = parseTime("starts", *starts); err != nil {
		return err
	}
	if in.ExpiresAt, err = parseTime("expires", *expires); err != nil {
		return err
	}
	var req *license.Request
	switch {
	case *request != "" && (*deviceID != "" || *fingerprint != ""):
		return usagef("--request already names the device: drop --device-id and --fingerprint")
	case *request != "":
		data, err := readInput(*request, license.MaxRequestSize)
		if err != nil {
			return err
		}
		if req, err = license.ParseRequest(data); err != nil {
			return fmt.Errorf("%s: %w", *request, err)
		}
	case (*deviceID == "") != (*fingerprint == ""):
		return usagef("--device-id and --fingerprint go together")
	case *deviceID != "":
		in.DeviceID = *deviceID
		in.DeviceFingerprintSHA256 = license.FingerprintHash(*fingerprint)
	}
	if err := in.Validate(); err != nil {
		return usagef("%v", err)
	}
	ks, err := keys.LoadDir(*dir)
	if err != nil {
		return err
	}
	iss, err := issuer.New(ks, nil)
	if err != nil {
		return fmt.Errorf("%w; make one with: licensectl keys generate --out %s", err, *dir)
	}
	var lic *issuer.License
	if req != nil {
		lic, err = iss.IssueForRequest(ctx, in, req)
	} else {
		lic, err = iss.Issue(ctx, in)
	}
	if err != nil {
		return err
	}
	if err := e.writeOutput(*out, lic.File); err != nil {
		return err
	}
	if *out != "-" {
		bound := "bound to no device"
		if lic.Claims.DeviceBound() {
			bound = "bound to device " + lic.Claims.DeviceID
		}
		fmt.Fprintf(e.stdout, "wrote %s: subscription %s, %s, expires %s, %s\n", *out,
			lic.Claims.SubscriptionID, lic.Claims.Tier, license.FormatTime(lic.Claims.ExpiresAt), bound)
	}
	return nil
}

func (e *env) verify(ctx context.Context, args []string) error {
	fs := e.newFlags("verify", "verify (--jwks FILE | --root ROOT_JWKS) [--product CODE] [--device-id ID] [--fingerprint FP] [--device-key FILE] LICENSE")
	product := fs.String("product", "", "the code of the product the app is (default: flowlytix-app): a file for another product is invalid")
	jwksPath := fs.String("jwks", "", "the public key set (JWKS) the app embeds")
	rootPath := fs.String("root", "", "the root key set the app pins (licensectl root jwks): accepts files whose signer the root endorsed")
	deviceID := fs.String("device-id", "", "this device's id, for a device-bound file")
	fingerprint := fs.String("fingerprint", "", "this device's raw fingerprint, for a device-bound file")
	deviceKey := fs.String("device-key", "", "this device's key (its JWK, private or public; see request --device-key): the file must be bound to it (cnf.jkt)")
	now := fs.String("now", "", "check as of this RFC 3339 time instead of the clock")
	lastSync := fs.String("last-sync", "", "RFC 3339 time of the last successful sync (default: none)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *jwksPath == "" && *rootPath == "" {
		return usagef("want --jwks FILE, --root ROOT_JWKS, or both")
	}
	if len(pos) != 1 {
		return usagef("want exactly one LICENSE file, got %d arguments", len(pos))
	}
	opts := clientlib.VerifyOptions{DeviceID: *deviceID, Fingerprint: *fingerprint, Product: *product}
	if opts.Now, err = parseTime("now", *now); err != nil {
		return err
	}
	if opts.State.LastSync, err = parseTime("last-sync", *lastSync); err != nil {
		return err
	}
	if *jwksPath != "" {
		jwks, err := readInput(*jwksPath, 1<<20)
		if err != nil {
			return err
		}
		ks, err := keys.ParseJWKS(jwks)
		if err != nil {
			return usagef("%s: %v", *jwksPath, err)
		}
		opts.Keys = ks
	}
	if *rootPath != "" {
		jwks, err := readInput(*rootPath, 1<<20)
		if err != nil {
			return err
		}
		rs, err := keys.ParseJWKS(jwks)
		if err != nil {
			return usagef("%s: %v", *rootPath, err)
		}
		opts.Roots = license.NewRoots(rs)
	}
	file, err := readLicense(pos[0])
	if err != nil {
		return err
	}
	res := clientlib.Verify(file, opts)
	if *deviceKey != "" && res.Status.Unlocks() {
		jkt, err := readDeviceKeyThumbprint(*deviceKey)
		if err != nil {
			return err
		}
		if res.Claims.DeviceKeyThumbprint != jkt {
			res.Status = clientlib.StatusDeviceMismatch
			res.Reason = fmt.Sprintf("the file is bound to device key %q, and --device-key is %s", res.Claims.DeviceKeyThumbprint, jkt)
			if res.Claims.DeviceKeyThumbprint == "" {
				res.Reason = "the file is bound to no device key, and --device-key names one"
			}
		}
	}
	fmt.Fprintln(e.stdout, res.Status)
	describe(e.stderr, res)
	if !res.Status.Unlocks() {
		return errFail
	}
	return nil
}

// readLicense reads a license file, at most one byte more than a license
// file may be, so that an oversized file is answered "invalid" at once
// without reading it all.
func readLicense(path string) ([]byte, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, usagef("%v", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, license.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

func describe(w io.Writer, res clientlib.Result) {
	if res.Reason != "" {
		fmt.Fprintf(w, "reason: %s\n", res.Reason)
	}
	c := res.Claims
	if c == nil {
		return
	}
	fmt.Fprintf(w, "subscription: %s\ncustomer: %s\ntier: %s\nfeatures: %s\nmax devices: %d\n",
		c.SubscriptionID, c.CustomerID, c.Tier, strings.Join(c.Features, ","), c.MaxDevices)
	fmt.Fprintf(w, "product: %s\n", c.Audience)
	if len(c.Entitlements) > 0 {
		ent, _ := json.Marshal(c.Entitlements)
		fmt.Fprintf(w, "entitlements: %s\n", ent)
	}
	fmt.Fprintf(w, "expires: %s (%d days remaining, %d days of grace)\n", license.FormatTime(c.ExpiresAt), res.DaysRemaining, c.GracePeriodDays)
	if res.InGrace {
		fmt.Fprintf(w, "in grace: %d days until %s\n", res.GraceDaysRemaining, license.FormatTime(c.Expiry))
	}
	if c.DeviceBound() {
		fmt.Fprintf(w, "device: %s\n", c.DeviceID)
	}
}

func (e *env) inspect(ctx context.Context, args []string) error {
	fs := e.newFlags("inspect", "inspect LICENSE")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one LICENSE file, got %d arguments", len(pos))
	}
	file, err := readLicense(pos[0])
	if err != nil {
		return err
	}
	tok, err := license.Parse(file)
	if err != nil {
		return err
	}
	claims, err := json.Marshal(tok.Claims)
	if err != nil {
		return err
	}
	header, err := json.Marshal(tok.Header)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	out.WriteString("# not verified: inspect reads a file without checking its signature; use licensectl verify\n")
	out.WriteString("header: ")
	if err := json.Indent(&out, header, "", "  "); err != nil {
		return err
	}
	out.WriteString("\nclaims: ")
	if err := json.Indent(&out, claims, "", "  "); err != nil {
		return err
	}
	out.WriteString("\n")
	_, err = e.stdout.Write(out.Bytes())
	return err
}

func (e *env) request(ctx context.Context, args []string) error {
	fs := e.newFlags("request", "request --license-key KEY --device-id ID --fingerprint FP [--device-key FILE] --out FILE")
	key := fs.String("license-key", "", "the license key the customer received (required)")
	deviceID := fs.String("device-id", "", "this device's id (required)")
	fingerprint := fs.String("fingerprint", "", "this device's raw fingerprint; only its SHA-256 goes in the file (required)")
	platform := fs.String("platform", defaultPlatform(), "the platform, e.g. linux/amd64")
	appVersion := fs.String("app-version", "", "the app's version")
	keyPath := fs.String("device-key", "", "this device's private key (a P-256 JWK), made there (0600) when the file does not exist: the license file is bound to it, and the app proves it on every call")
	out := fs.String("out", "", `where to write the request file, "-" for stdout (required)`)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "license-key", "device-id", "fingerprint", "out"); err != nil {
		return err
	}
	req, err := license.NewRequest(*key, *deviceID, *fingerprint, *platform, *appVersion, time.Now())
	if err != nil {
		return usagef("%v", err)
	}
	if *keyPath != "" {
		k, made, err := loadOrMakeDeviceKey(*keyPath)
		if err != nil {
			return err
		}
		if made {
			fmt.Fprintf(e.stderr, "made a device key in %s (keep it with the app's data; it never leaves this machine)\n", *keyPath)
		}
		req.DevicePublicKey = k.PublicJWK()
	}
	data, err := req.Encode()
	if err != nil {
		return err
	}
	if err := e.writeOutput(*out, data); err != nil {
		return err
	}
	if *out != "-" {
		fmt.Fprintf(e.stdout, "wrote %s: send it to your vendor, then import the license file they return\n", *out)
	}
	return nil
}

// loadOrMakeDeviceKey reads a device's private key, or makes one and
// writes it, readable by its owner alone, when the file does not exist.
func loadOrMakeDeviceKey(path string) (*license.DeviceKey, bool, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		k, err := license.ParseDeviceKey(data)
		if err != nil {
			return nil, false, usagef("%s: %v", path, err)
		}
		return k, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, usagef("%v", err)
	}
	k, err := license.NewDeviceKey()
	if err != nil {
		return nil, false, err
	}
	js, err := k.MarshalJSON()
	if err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, usagef("%v", err)
	}
	if _, err := f.Write(append(js, '\n')); err != nil {
		f.Close()
		return nil, false, err
	}
	if err := f.Close(); err != nil {
		return nil, false, err
	}
	return k, true, nil
}

// readDeviceKeyThumbprint reads a device key, private or public, and
// returns its thumbprint.
func readDeviceKeyThumbprint(path string) (string, error) {
	data, err := readInput(path, license.MaxDeviceKeySize)
	if err != nil {
		return "", err
	}
	if k, err := license.ParseDeviceKey(data); err == nil {
		return k.Thumbprint(), nil
	}
	pub, err := license.ParseDevicePublicKey(data)
	if err != nil {
		return "", usagef("%s: not a device key: %v", path, err)
	}
	return pub.Thumbprint, nil
}
