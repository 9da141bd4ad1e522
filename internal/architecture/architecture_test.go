// Package architecture_test holds the code to the dependency table of
// docs/architecture.md: for every Go package the table lists, none of its
// imports may be one its "must not import" cell names. The table is read
// from the document itself, so the two cannot drift apart: a term this test
// does not know fails it.
package architecture_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "github.com/flowlytix/licensing/"

// server and adapters, by what the table calls them.
var (
	storeAdapters = []string{module + "syncserver/sqlstore", module + "syncserver/sqlite", module + "syncserver/postgres"}
	drivers       = []string{"github.com/jackc/pgx", "modernc.org/sqlite"}
	server        = []string{module + "syncserver", module + "admin", module + "internal/storeopen", module + "internal/demo"}
)

// terms maps each phrase of the "must not import" column to import path
// prefixes; pkg is the row's own package, for "anything of ours".
func terms(term, pkg string) ([]string, bool) {
	switch term {
	case "anything of ours", "everything":
		return []string{module}, true
	case "server", "anything of the server":
		return server, true
	case "client", "clientlib":
		return []string{module + "clientlib"}, true
	case "syncserver and adapters":
		return []string{module + "syncserver"}, true
	case "its adapters", "store adapters":
		return storeAdapters, true
	case "other adapters": // the engine adapters build on sqlstore
		var out []string
		for _, a := range storeAdapters[1:] {
			if a != module+pkg && !strings.HasPrefix(module+pkg, a+"/") {
				out = append(out, a)
			}
		}
		return out, true
	case "drivers":
		return drivers, true
	case "pgx":
		return []string{"github.com/jackc/pgx"}, true
	case "chi":
		return []string{"github.com/go-chi/"}, true
	case "html/template", "admin":
		if term == "admin" {
			return []string{module + "admin"}, true
		}
		return []string{"html/template"}, true
	case "everything else":
		return nil, true // handled with the may-import column
	}
	return nil, false
}

type row struct {
	pkgs      []string
	may       string
	mustNot   []string
	tableLine int
}

func readTable(t *testing.T, root string) []row {
	f, err := os.Open(filepath.Join(root, "docs/architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []row
	sc := bufio.NewScanner(f)
	n := 0
	inTable := false
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.HasPrefix(line, "| package |") {
			inTable = true
			continue
		}
		if inTable && !strings.HasPrefix(line, "|") {
			break
		}
		if !inTable || !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 4 {
			t.Fatalf("docs/architecture.md:%d: want 4 cells, got %d", n, len(cells))
		}
		var r row
		r.tableLine = n
		for _, p := range strings.Split(cells[0], ",") {
			r.pkgs = append(r.pkgs, strings.Trim(strings.TrimSpace(p), "`"))
		}
		r.may = strings.TrimSpace(cells[2])
		if mn := strings.TrimSpace(cells[3]); mn != "—" {
			for _, term := range strings.Split(mn, ",") {
				r.mustNot = append(r.mustNot, strings.TrimSpace(term))
			}
		}
		rows = append(rows, r)
	}
	if len(rows) < 20 {
		t.Fatalf("docs/architecture.md: read %d table rows; want the whole package table", len(rows))
	}
	return rows
}

func TestTheArchitectureTableHolds(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "../..")
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", root+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		imports[strings.TrimPrefix(f[0], module)] = f[1:]
	}
	checked := 0
	for _, r := range readTable(t, root) {
		for _, pkg := range r.pkgs {
			imps, isGo := imports[pkg]
			if !isGo {
				if _, err := os.Stat(filepath.Join(root, pkg)); err != nil {
					t.Errorf("docs/architecture.md:%d names %s, which does not exist", r.tableLine, pkg)
				}
				continue // not Go (clientlib/js, examples/electron, migrations' SQL)
			}
			var forbidden []string
			for _, term := range r.mustNot {
				p, ok := terms(term, pkg)
				if !ok {
					t.Errorf("docs/architecture.md:%d: %q is not a term this test knows; add it to terms()", r.tableLine, term)
				}
				if term == "everything else" {
					for _, imp := range imps {
						if strings.HasPrefix(imp, module) && !strings.Contains(r.may, "`"+strings.TrimPrefix(imp, module)+"`") &&
							!strings.Contains(r.may, strings.TrimPrefix(imp, module)) {
							t.Errorf("%s imports %s; docs/architecture.md:%d lets it import only %s", pkg, imp, r.tableLine, r.may)
						}
					}
				}
				forbidden = append(forbidden, p...)
			}
			for _, imp := range imps {
				for _, f := range forbidden {
					if (imp == strings.TrimSuffix(f, "/") || strings.HasPrefix(imp, f)) && imp != module+pkg && !strings.HasPrefix(imp, module+pkg+"/") {
						t.Errorf("%s imports %s, which docs/architecture.md:%d forbids", pkg, imp, r.tableLine)
					}
				}
			}
			checked++
		}
	}
	if checked < 20 {
		t.Errorf("checked %d packages; want every Go package of the table", checked)
	}
}
