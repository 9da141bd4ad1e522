package admin

import (
	"bytes"
	"io"
	"net/http"
	"strings"
)

func (a *Console) offlinePage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, "offline", page{Title: "Air-gapped activation", Nav: "offline"})
}

func (a *Console) offlineActivate(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	var req []byte
	if err := r.ParseMultipartForm(1 << 20); err == nil {
		if f, _, err := r.FormFile("request_file"); err == nil {
			req, _ = io.ReadAll(io.LimitReader(f, 64<<10))
			f.Close()
		}
	}
	if len(bytes.TrimSpace(req)) == 0 {
		req = []byte(r.FormValue("request"))
	}
	file, dev, err := a.svc.OfflineActivate(r.Context(), actor(r), req)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		a.render(w, r, "offline", page{Title: "Air-gapped activation", Nav: "offline", Error: errText(err)})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+sanitizeFilename(dev.DeviceID)+`.lic"`)
	w.Write(file)
}

func sanitizeFilename(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

func (a *Console) revocationList(w http.ResponseWriter, r *http.Request) {
	jws, err := a.svc.SignedRevocations(r.Context(), 0)
	if err != nil {
		a.failed(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/jose")
	w.Header().Set("Content-Disposition", `attachment; filename="revocations.jws"`)
	io.WriteString(w, jws)
}
