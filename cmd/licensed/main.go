// Command licensed is the Flowlytix Licensing server: the app API, the
// admin API, the web admin and the scheduled jobs, over SQLite or
// PostgreSQL. Run licensed help.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/flowlytix/licensing/internal/password"
	"github.com/flowlytix/licensing/internal/storeopen"
	"github.com/flowlytix/licensing/syncserver"
)

const usage = `licensed: the Flowlytix Licensing server.

Usage:
  licensed serve [--addr 127.0.0.1:8080] [--db DSN] [--keys DIR] [--demo] [flags]
  licensed token create --name NAME [--db DSN]
  licensed admin create --email EMAIL [--password-stdin | --password-file FILE] [--db DSN]

DSN is a file path or sqlite:PATH (default ./data/licensing.db), or
postgres://user:pass@host:5432/db. Every flag also reads from the
environment: --db from LICENSED_DB, --trust-proxy from LICENSED_TRUST_PROXY,
and so on. Run "licensed serve --help" for every flag.
`

func main() {
	// The heap stays small (tens of MB) and most garbage is short-lived
	// request and signing buffers: collect half as often as the default.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// stdin is where admin create --password-stdin reads; tests replace it.
var stdin io.Reader = os.Stdin

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "serve":
		var cfg config
		cfg, err = parseServe(args[1:], stderr)
		if err == nil {
			err = serve(ctx, cfg, stdout, stderr)
		}
	case "token":
		err = token(ctx, args[1:], stdout, stderr)
	case "admin":
		err = adminCmd(ctx, args[1:], stdin, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "licensed: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "licensed %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "licensed %s: %v\n", args[0], err)
		return 1
	}
}

type usageError struct{ error }

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// envName is the environment variable of a flag: LICENSED_ and the flag's
// name in upper case, dashes as underscores.
func envName(flagName string) string {
	return "LICENSED_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// wantOf says in words what a flag takes.
func wantOf(f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return "what --help says"
	}
	switch g.Get().(type) {
	case time.Duration:
		return "a duration such as 45m, 12h or 720h (hours are the largest unit)"
	case int:
		return "a whole number"
	case bool:
		return "true or false (yes/no, on/off, 1/0)"
	}
	return "what --help says"
}

// flagsFromEnv sets every flag not given on the command line from its
// environment variable. A value the flag refuses stops licensed with the
// variable's name: falling back to the default would run the server with
// settings nobody chose.
func flagsFromEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		v, ok := os.LookupEnv(envName(f.Name))
		if err != nil || given[f.Name] || !ok || v == "" {
			return
		}
		if b, isBool := f.Value.(interface{ IsBoolFlag() bool }); isBool && b.IsBoolFlag() {
			switch strings.ToLower(v) {
			case "yes", "on":
				v = "true"
			case "no", "off":
				v = "false"
			}
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = usageError{fmt.Errorf("%s=%q is not a valid value for --%s: want %s", envName(f.Name), v, f.Name, wantOf(f))}
		}
	})
	return err
}

func token(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError{errors.New("want: licensed token create --name NAME [--db DSN]")}
	}
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "what the token is for, e.g. billing-sync (required)")
	dsn := fs.String("db", env("LICENSED_DB", storeopen.DefaultDSN), "database (LICENSED_DB)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if *name == "" {
		return usageError{errors.New("--name is required")}
	}
	st, err := storeopen.Open(ctx, *dsn, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	secret, t, err := syncserver.CreateAPIToken(ctx, st, time.Now(), "cli", *name)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Created admin API token %q (id %s). It is shown once; store it now.\nUse it as: Authorization: Bearer <token>\n%s\n", t.Name, t.ID, secret)
	return nil
}

func adminCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError{errors.New("want: licensed admin create --email EMAIL [--password-stdin | --password-file FILE] [--db DSN]")}
	}
	fs := flag.NewFlagSet("admin create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "the admin's email, the sign-in name (required)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	file := fs.String("password-file", "", "read the password from the first line of this file")
	legacy := fs.String("password", "", "refused: a password on the command line shows in ps and shell history")
	dsn := fs.String("db", env("LICENSED_DB", storeopen.DefaultDSN), "database (LICENSED_DB)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	switch {
	case *email == "":
		return usageError{errors.New("--email is required")}
	case *legacy != "":
		return usageError{errors.New("--password is refused: a password on the command line shows in ps and shell history; use --password-stdin or --password-file FILE (without either, a random password is printed once)")}
	case *fromStdin && *file != "":
		return usageError{errors.New("give --password-stdin or --password-file, not both")}
	}
	var pw string
	var err error
	switch {
	case *fromStdin:
		pw, err = firstLine(stdin)
	case *file != "":
		var f *os.File
		if f, err = os.Open(*file); err == nil {
			pw, err = firstLine(f)
			f.Close()
		}
	default:
		pw, err = password.New()
	}
	if err != nil {
		return fmt.Errorf("read the password: %w", err)
	}
	st, err := storeopen.Open(ctx, *dsn, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := syncserver.CreateAdminUser(ctx, st, time.Now(), "cli", *email, pw)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Created admin %s. Sign in at /admin/ with", u.Email)
	if !*fromStdin && *file == "" {
		fmt.Fprintf(stdout, " this password (shown once):\n%s\n", pw)
	} else {
		fmt.Fprintln(stdout, " the password you gave.")
	}
	return nil
}

// firstLine reads a password: the first line, without its line end.
func firstLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("it is empty")
	}
	return line, nil
}
