// Command licensectl makes signing keys, issues and verifies license files,
// and does the air-gapped work, all offline. Run licensectl help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and the answer is no (verify) or it failed
	exitUsage = 2 // the command line is wrong or an input cannot be read
)

const usage = `licensectl: keys, license files and air-gapped activation and sync, offline.

Usage:
  licensectl keys generate --out DIR [--bits 3072] [--next]
  licensectl keys jwks --keys DIR
  licensectl keys promote|retire|revoke --keys DIR KID
  licensectl keys endorse --root ROOTDIR --key FILE [--not-after RFC3339] --out FILE
  licensectl root generate --out ROOTDIR [--bits 3072]
  licensectl root jwks --root ROOTDIR
  licensectl root revoke-key --root ROOTDIR --kid KID --out FILE
  licensectl issue --keys DIR --customer-id UUID --tier TIER --max-devices N --expires RFC3339
                   [--features a,b] [--starts RFC3339] [--grace-days N] [--check-in-days N]
                   [--max-offline-days N] [--subscription-id UUID] [--tenant-id ID]
                   [--device-id ID --fingerprint FP | --request FILE] --out FILE
  licensectl verify (--jwks FILE | --root ROOT_JWKS) [--device-id ID] [--fingerprint FP] LICENSE
  licensectl inspect LICENSE
  licensectl request --license-key KEY --device-id ID --fingerprint FP [--device-key FILE] --out FILE

Air-gapped exchange, on the offline machine (the app's cache, the app closed):
  licensectl sync request --cache FILE --app-id ID (--jwks FILE | --root FILE) --out FILE
  licensectl sync import  --cache FILE --app-id ID (--jwks FILE | --root FILE) RESPONSE
  licensectl deactivate   --cache FILE --app-id ID (--jwks FILE | --root FILE) --out RECEIPT
and where the admin API is reachable (the token in LICENSED_TOKEN):
  licensectl sync upload --server URL FILE [--out RESPONSE]

Run "licensectl COMMAND --help" for a command's flags.
verify exits 0 for valid or grace, 1 for any other status, 2 for a usage error.
`

// usageError is a command line mistake: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errFail ends a command with exit code 1 after it has said why.
var errFail = errors.New("fail")

type env struct {
	stdout, stderr io.Writer
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "keys":
		err = e.keys(ctx, args[1:])
	case "root":
		err = e.root(ctx, args[1:])
	case "issue":
		err = e.issue(ctx, args[1:])
	case "verify":
		err = e.verify(ctx, args[1:])
	case "inspect":
		err = e.inspect(ctx, args[1:])
	case "request":
		err = e.request(ctx, args[1:])
	case "sync":
		err = e.sync(ctx, args[1:])
	case "deactivate":
		err = e.deactivate(ctx, args[1:])
	default:
		fmt.Fprintf(stderr, "licensectl: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errFail):
		return exitFail
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "licensectl %s: %v\n", args[0], err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "licensectl %s: %v\n", args[0], err)
		return exitFail
	}
}

// newFlags makes a flag set that prints its help to stderr and reports
// errors as usage errors.
func (e *env) newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: licensectl %s\n\nFlags:\n", synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			name, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(e.stderr, "  --%s %s\n      %s", f.Name, name, usage)
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
				fmt.Fprintf(e.stderr, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(e.stderr)
		})
	}
	return fs
}

// parse parses flags that may come before or after the positional
// arguments, and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{msg: err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// required checks that every named string flag was given.
func required(fs *flag.FlagSet, names ...string) error {
	var missing []string
	for _, n := range names {
		if f := fs.Lookup(n); f != nil && f.Value.String() == "" {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return usagef("missing %s (see licensectl %s --help)", strings.Join(missing, ", "), fs.Name())
	}
	return nil
}

// writeOutput writes data to path, or to stdout when path is "-". License
// files are not secret, but activation requests carry a license key, so
// both are written readable by their owner only.
func (e *env) writeOutput(path string, data []byte) error {
	if path == "-" {
		_, err := e.stdout.Write(data)
		return err
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readInput reads at most limit bytes from path ("-" for stdin): a bigger
// input is refused without reading it whole.
func readInput(path string, limit int64) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, usagef("%v", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, usagef("%s is larger than %d bytes; it is not a file this command reads", path, limit)
	}
	return data, nil
}
