package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// wire is one worker's keep-alive HTTP/1.1 connection. It writes each
// request itself and reads the answer with http.ReadResponse, as wrk does,
// instead of going through http.Client: no transport goroutines, no
// channel hand-offs, one buffer reused. The load generator runs on the
// same cores as the server it measures, so every microsecond it spends is
// one the server does not get.
type wire struct {
	addr, host string
	conn       net.Conn
	br         *bufio.Reader
	buf        []byte
}

func newWire(base string) (*wire, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("--url %s: the load generator speaks plain http to a server on this machine", base)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return &wire{addr: addr, host: u.Host}, nil
}

func (w *wire) close() {
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

// post sends body to path and returns the status and the answer's body,
// which stays valid until the next call. A connection the server closed
// while idle is dialled again once; both requests the load generator
// repeats (activate, sync) are idempotent by the contract.
func (w *wire) post(ctx context.Context, path, token string, body []byte) (int, []byte, error) {
	return w.postProved(ctx, path, token, "", body)
}

// postProved is post with a DPoP proof. A proof is taken once, so a
// request dialled again is not sent twice with it: the retry is only for a
// connection that failed before the server read the request.
func (w *wire) postProved(ctx context.Context, path, token, dpop string, body []byte) (int, []byte, error) {
	for attempt := 0; ; attempt++ {
		status, data, err := w.try(ctx, path, token, dpop, body)
		if err == nil {
			return status, data, nil
		}
		w.close()
		if attempt > 0 || ctx.Err() != nil || !reusedConnError(err) {
			return 0, nil, err
		}
	}
}

func reusedConnError(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

func (w *wire) try(ctx context.Context, path, token, dpop string, body []byte) (int, []byte, error) {
	if w.conn == nil {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", w.addr)
		if err != nil {
			return 0, nil, err
		}
		w.conn = c
		if w.br == nil {
			w.br = bufio.NewReaderSize(c, 16<<10)
		} else {
			w.br.Reset(c)
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		w.conn.SetDeadline(dl)
	} else {
		w.conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
	b := w.buf[:0]
	b = append(b, "POST "...)
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, w.host...)
	b = append(b, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	if token != "" {
		b = append(b, "\r\nAuthorization: Bearer "...)
		b = append(b, token...)
	}
	if dpop != "" {
		b = append(b, "\r\nDPoP: "...)
		b = append(b, dpop...)
	}
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	if _, err := w.conn.Write(b); err != nil {
		return 0, nil, err
	}
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		return 0, nil, err
	}
	b = b[:0]
	if resp.ContentLength > 0 && int64(cap(b)) < resp.ContentLength {
		b = make([]byte, 0, resp.ContentLength)
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := resp.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, nil, err
		}
	}
	resp.Body.Close()
	w.buf = b
	if resp.Close {
		w.close()
	}
	return resp.StatusCode, b, nil
}
