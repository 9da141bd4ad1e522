package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// hookReceiver is a vendor's webhook endpoint on this machine: it counts
// deliveries and answers 204 at once.
type hookReceiver struct {
	srv   *http.Server
	url   string
	id    string
	count atomic.Int64
}

func newHookReceiver(ctx context.Context, c config) (*hookReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &hookReceiver{url: "http://" + ln.Addr().String() + "/hooks"}
	h.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h.count.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})}
	go h.srv.Serve(ln)
	var ep struct{ ID string }
	if _, err := call(ctx, "POST", c.url+"/api/v1/webhook-endpoints", c.token, map[string]any{"url": h.url,
		"event_types": []string{"device.activated"}, "enabled": false}, &ep); err != nil {
		return nil, fmt.Errorf("register the webhook endpoint: %w", err)
	}
	h.id = ep.ID
	return h, nil
}

// drain enables the endpoint and times the delivery of its backlog of n
// events.
func (h *hookReceiver) drain(ctx context.Context, c config, n int) error {
	start := time.Now()
	if _, err := call(ctx, "PATCH", c.url+"/api/v1/webhook-endpoints/"+h.id, c.token, map[string]any{"enabled": true}, nil); err != nil {
		return err
	}
	deadline := start.Add(5 * time.Minute)
	for h.count.Load() < int64(n) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("webhooks: %d of %d delivered in 5 minutes", h.count.Load(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	el := time.Since(start)
	fmt.Printf("webhooks: a backlog of %d events delivered in %s = %.0f deliveries/s (one endpoint, in order)\n", n, el.Round(time.Millisecond), float64(n)/el.Seconds())
	return nil
}

func (h *hookReceiver) close() { h.srv.Close() }
