// SPDX-License-Identifier: MIT

// The peer a Go user would write instead of wspushd: the same job as wspush_peer.py, on
// gorilla/websocket (Debian's golang-github-gorilla-websocket-dev, 1.5.0), for bench/run to
// measure next to the daemon. bench/run builds it (offline, see go.mod) into its build
// directory as bench/peers/wspush-peer-go.
//
//	wspush-peer-go --url ws://127.0.0.1:PORT/websocket/ID [--file PATH] [--socket PATH]
//		[--heartbeat-interval SECONDS]
//
// What it does, as the Python peer and wspushd do it (PRODUCT.md):
//   - keeps one connection, sends the heartbeat {"sendType":"HEALTH"} on open and every
//     interval, pings every 20 s and gives the link up after 60 s without a pong (gorilla
//     answers pings but sends none itself), reconnects with exponential backoff and jitter;
//   - drops the two protocol replies ("SUCCESS" and the greeting);
//   - turns every other message into a record, {"seq":N,"ts":"…Z","data":…} (data: the
//     compact JSON value when the text is JSON, else the text as a string; binary frames as
//     base64 with "binary":true), one line each;
//   - appends the records to --file, and writes them to every client of the Unix socket
//     --socket, which also answers {"op":"status"} with a status event and cuts off a client
//     more than 4 MiB behind.
//
// It is written the way a careful user would write it, not tuned beyond that: one goroutine
// reads the connection, encoding/json makes the lines, and each output (the file, every
// client) has a goroutine of its own that writes whatever queued up meanwhile in one Write.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const (
	heartbeat      = `{"sendType":"HEALTH"}`
	maxQueue       = 4 << 20
	maxMessage     = 1 << 20
	pingInterval   = 20 * time.Second
	pongWait       = 60 * time.Second
	timestampStyle = "2006-01-02T15:04:05.000000Z"
)

var (
	drop       = map[string]bool{"SUCCESS": true, "来自后台的反馈:连接成功": true}
	tooSlow    = []byte(`{"event":"error","message":"too slow: disconnected"}` + "\n")
	badRequest = []byte(`{"event":"error","message":"unknown request"}` + "\n")
)

// A record line as wspushd writes it; Data is a json.RawMessage (JSON text, kept as it is but
// compacted), a string (other text) or a []byte (binary, which encoding/json writes as base64).
type record struct {
	Seq    uint64 `json:"seq"`
	TS     string `json:"ts"`
	Data   any    `json:"data"`
	Binary bool   `json:"binary,omitempty"`
}

type statusEvent struct {
	Event       string `json:"event"`
	State       string `json:"state"`
	Received    uint64 `json:"received"`
	Subscribers int    `json:"subscribers"`
}

// An outbox queues lines for one writer (the file, a client's connection) and writes them
// from its own goroutine, all that queued up since the last write in one Write: the reading
// goroutine never waits for a writer, and a busy stream costs a system call per batch.
type outbox struct {
	w     io.Writer
	limit int // the most bytes queued; 0: no limit
	wake  chan struct{}

	mu      sync.Mutex
	pending []byte
	closing bool
}

func newOutbox(w io.Writer, limit int) *outbox {
	return &outbox{w: w, limit: limit, wake: make(chan struct{}, 1)}
}

// push queues a copy of line; false, with nothing queued, when the writer is more than the
// limit behind.
func (o *outbox) push(line []byte) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.limit > 0 && len(o.pending)+len(line) > o.limit {
		return false
	}
	if !o.closing {
		o.pending = append(o.pending, line...)
		o.signal()
	}
	return true
}

// close queues a last line (or none) and has run return once everything queued is written.
func (o *outbox) close(last []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.closing {
		o.pending = append(o.pending, last...)
		o.closing = true
		o.signal()
	}
}

func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// run writes what is queued until the outbox is closed (nil) or a write fails (its error).
func (o *outbox) run() error {
	var batch []byte
	for range o.wake {
		o.mu.Lock()
		batch, o.pending = o.pending, batch[:0]
		closing := o.closing
		o.mu.Unlock()
		if len(batch) > 0 {
			if _, err := o.w.Write(batch); err != nil {
				return err
			}
		}
		if closing {
			return nil
		}
	}
	return nil
}

type client struct {
	conn net.Conn
	out  *outbox
}

type peer struct {
	url               string
	heartbeatInterval time.Duration
	file              *outbox

	mu        sync.Mutex // the reading goroutine and the clients' share what follows
	seq       uint64
	connected bool
	clients   map[*client]bool
	line      bytes.Buffer
	encoder   *json.Encoder
}

func newPeer(url string, heartbeatInterval time.Duration) *peer {
	p := &peer{url: url, heartbeatInterval: heartbeatInterval, clients: map[*client]bool{}}
	p.encoder = json.NewEncoder(&p.line)
	p.encoder.SetEscapeHTML(false)
	return p
}

// --- the Unix socket ------------------------------------------------------------------------

func (p *peer) serve(listener net.Listener) {
	for {
		conn, err := listener.Accept()
		if err != nil {
			fmt.Fprintf(os.Stderr, "wspush-peer-go: %v\n", err)
			return
		}
		go p.serveClient(conn)
	}
}

func (p *peer) serveClient(conn net.Conn) {
	c := &client{conn: conn, out: newOutbox(conn, maxQueue)}
	p.mu.Lock()
	p.clients[c] = true
	p.mu.Unlock()
	go func() {
		c.out.run()
		p.remove(c)
		conn.Close()
	}()
	requests := bufio.NewScanner(conn)
	for requests.Scan() {
		var request struct {
			Op string `json:"op"`
		}
		if json.Unmarshal(requests.Bytes(), &request) == nil && request.Op == "status" {
			p.sendStatus(c)
		} else {
			c.out.push(badRequest)
		}
	}
	p.remove(c)
	c.out.close(nil)
}

// sendStatus queues the status event for c, in order with the records around it.
func (p *peer) sendStatus(c *client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	state := "disconnected"
	if p.connected {
		state = "connected"
	}
	c.out.push(jsonLine(statusEvent{Event: "status", State: state, Received: p.seq,
		Subscribers: len(p.clients)}))
}

func (p *peer) remove(c *client) {
	p.mu.Lock()
	delete(p.clients, c)
	p.mu.Unlock()
}

// broadcast writes line to every client; one more than maxQueue behind is cut off. Called
// with p.mu held.
func (p *peer) broadcast(line []byte) {
	for c := range p.clients {
		if !c.out.push(line) {
			delete(p.clients, c)
			c.out.close(tooSlow)
		}
	}
}

func (p *peer) event(fields map[string]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.broadcast(jsonLine(fields))
}

// --- the connection -------------------------------------------------------------------------

func (p *peer) deliver(binary bool, message []byte) {
	if !binary && drop[string(message)] {
		return
	}
	r := record{TS: time.Now().UTC().Format(timestampStyle)}
	switch {
	case binary:
		r.Data, r.Binary = message, true
	case json.Valid(message):
		r.Data = json.RawMessage(message)
	default:
		r.Data = string(message)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	r.Seq = p.seq
	p.line.Reset()
	if err := p.encoder.Encode(r); err != nil {
		fmt.Fprintf(os.Stderr, "wspush-peer-go: record %d: %v\n", r.Seq, err)
		return
	}
	if p.file != nil {
		p.file.push(p.line.Bytes())
	}
	p.broadcast(p.line.Bytes())
}

// beat sends the heartbeat now and every interval, and pings, until stop is closed or a
// write fails. The only goroutine that writes to conn.
func (p *peer) beat(conn *websocket.Conn, stop <-chan struct{}) {
	heartbeats := time.NewTicker(p.heartbeatInterval)
	defer heartbeats.Stop()
	pings := time.NewTicker(pingInterval)
	defer pings.Stop()
	if conn.WriteMessage(websocket.TextMessage, []byte(heartbeat)) != nil {
		return
	}
	for {
		select {
		case <-stop:
			return
		case <-heartbeats.C:
			if conn.WriteMessage(websocket.TextMessage, []byte(heartbeat)) != nil {
				return
			}
		case <-pings.C:
			if conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(pongWait)) != nil {
				return
			}
		}
	}
}

// session connects once and reads until the connection ends; returns whether it was
// connected, and why it ended.
func (p *peer) session() (bool, string) {
	conn, _, err := websocket.DefaultDialer.Dial(p.url, nil)
	if err != nil {
		return false, err.Error()
	}
	defer conn.Close()
	conn.SetReadLimit(maxMessage)
	conn.SetReadDeadline(time.Now().Add(pongWait))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(pongWait))
	})
	fmt.Fprintln(os.Stderr, "connected")
	p.mu.Lock()
	p.connected = true
	p.mu.Unlock()
	p.event(map[string]string{"event": "connected", "server": p.url})
	stop := make(chan struct{})
	defer close(stop)
	go p.beat(conn, stop)
	for {
		kind, message, err := conn.ReadMessage()
		if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) {
			return true, "closed by the server"
		} else if err != nil {
			return true, err.Error()
		}
		p.deliver(kind == websocket.BinaryMessage, message)
	}
}

func (p *peer) run() {
	delay := time.Second
	for {
		connected, reason := p.session()
		if connected {
			delay = time.Second
			p.mu.Lock()
			p.connected = false
			p.mu.Unlock()
			p.event(map[string]string{"event": "disconnected", "reason": reason})
		}
		wait := time.Duration(float64(delay) * (0.8 + 0.4*rand.Float64()))
		fmt.Fprintf(os.Stderr, "reconnecting in %.1f s: %s\n", wait.Seconds(), reason)
		time.Sleep(wait)
		if delay *= 2; delay > time.Minute {
			delay = time.Minute
		}
	}
}

// jsonLine is v as one line of compact JSON, non-ASCII and <>& as they are.
func jsonLine(v any) []byte {
	var line bytes.Buffer
	encoder := json.NewEncoder(&line)
	encoder.SetEscapeHTML(false)
	encoder.Encode(v)
	return line.Bytes()
}

func main() {
	url := flag.String("url", "", "the push server's ws:// or wss:// URL (required)")
	filePath := flag.String("file", "", "append the records to this file")
	socketPath := flag.String("socket", "", "serve the records on this Unix socket")
	interval := flag.Float64("heartbeat-interval", 30, "seconds between heartbeats")
	flag.Parse()
	if *url == "" || flag.NArg() > 0 || *interval <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	p := newPeer(*url, time.Duration(*interval*float64(time.Second)))
	if *filePath != "" {
		file, err := os.OpenFile(*filePath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			fmt.Fprintf(os.Stderr, "wspush-peer-go: %v\n", err)
			os.Exit(1)
		}
		p.file = newOutbox(file, 0)
		go func() {
			for err := p.file.run(); err != nil; err = p.file.run() {
				fmt.Fprintf(os.Stderr, "wspush-peer-go: %v\n", err)
			}
		}()
	}
	if *socketPath != "" {
		os.Remove(*socketPath)
		listener, err := net.Listen("unix", *socketPath)
		if err != nil {
			fmt.Fprintf(os.Stderr, "wspush-peer-go: %v\n", err)
			os.Exit(1)
		}
		go p.serve(listener)
	}
	p.run()
}
