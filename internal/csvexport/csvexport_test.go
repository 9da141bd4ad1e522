package csvexport_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/flowlytix/licensing/internal/csvexport"
)

func TestACellNeverStartsAFormula(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"http://evil.example\")": "'=HYPERLINK(\"http://evil.example\")",
		"+1+1":                                "'+1+1",
		"-2+3":                                "'-2+3",
		"@SUM(A1)":                            "'@SUM(A1)",
		"\tcmd":                               "'\tcmd",
		"\rcmd":                               "'\rcmd",
		"Acme Corp":                           "Acme Corp",
		"a=b":                                 "a=b",
		"":                                    "",
		"2026-11-30T10:00:00Z":                "2026-11-30T10:00:00Z",
	} {
		assert.Equal(t, want, csvexport.Cell(in), "%q", in)
	}
}
