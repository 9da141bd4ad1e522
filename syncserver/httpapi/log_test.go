package httpapi_test

import (
	"log/slog"

	"github.com/flowlytix/licensing/internal/testenv"
)

func discardLogger() *slog.Logger { return testenv.QuietLog() }
