// Package listener serves gRPC and HTTP/1.1 on one port: it sorts the connections of one TCP listener by
// protocol, HTTP/2 cleartext (gRPC) to one listener and everything else (REST, the data plane, the admin
// API) to another.
package listener

import (
	"bytes"
	"net"
	"sync"
	"time"
)

// http2Preface opens every HTTP/2 connection, including gRPC's (RFC 9113 §3.4).
var http2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

// prefaceTimeout bounds how long a new connection may take to send its first bytes.
const prefaceTimeout = 10 * time.Second

// Split sorts the connections of one TCP listener by protocol:
// HTTP/2 cleartext (gRPC) goes to H2, everything else (HTTP/1.x) to H1.
type Split struct {
	l      net.Listener
	h1, h2 *connQueue
	done   chan struct{}

	mu      sync.Mutex
	sorting map[net.Conn]struct{} // connections not sorted yet; closed by Close
	closed  bool
}

// New starts sorting the connections l accepts; Close stops it.
func New(l net.Listener) *Split {
	sl := &Split{l: l, done: make(chan struct{}), sorting: map[net.Conn]struct{}{}}
	sl.h1 = &connQueue{conns: make(chan net.Conn), closed: make(chan struct{}), addr: l.Addr()}
	sl.h2 = &connQueue{conns: make(chan net.Conn), closed: make(chan struct{}), addr: l.Addr()}
	go sl.acceptLoop()
	return sl
}

// H1 accepts the HTTP/1.x connections.
func (sl *Split) H1() net.Listener { return sl.h1 }

// H2 accepts the HTTP/2 cleartext (gRPC) connections.
func (sl *Split) H2() net.Listener { return sl.h2 }

// Addr is the address of the underlying listener.
func (sl *Split) Addr() net.Addr { return sl.l.Addr() }

func (sl *Split) acceptLoop() {
	defer close(sl.done)
	for {
		conn, err := sl.l.Accept()
		if err != nil {
			return
		}
		go sl.route(conn)
	}
}

// route reads just enough of conn to tell HTTP/2 from HTTP/1.x and queues
// it, replaying the bytes read.
func (sl *Split) route(conn net.Conn) {
	sl.mu.Lock()
	if sl.closed {
		sl.mu.Unlock()
		_ = conn.Close()
		return
	}
	sl.sorting[conn] = struct{}{}
	sl.mu.Unlock()
	defer func() {
		sl.mu.Lock()
		delete(sl.sorting, conn)
		sl.mu.Unlock()
	}()
	_ = conn.SetReadDeadline(time.Now().Add(prefaceTimeout))
	buf := make([]byte, 0, len(http2Preface))
	isH2 := false
	for {
		n, err := conn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if !bytes.HasPrefix(http2Preface, buf) {
			break
		}
		if len(buf) == len(http2Preface) {
			isH2 = true
			break
		}
		if err != nil {
			_ = conn.Close()
			return
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	q := sl.h1
	if isH2 {
		q = sl.h2
	}
	q.push(&replayConn{Conn: conn, pending: buf})
}

// Close stops accepting and closes both queues.
func (sl *Split) Close() error {
	err := sl.l.Close()
	<-sl.done
	sl.mu.Lock()
	sl.closed = true
	for conn := range sl.sorting {
		_ = conn.Close()
	}
	sl.mu.Unlock()
	_ = sl.h1.Close()
	_ = sl.h2.Close()
	return err
}

// connQueue is a net.Listener fed by Split.
type connQueue struct {
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
	addr      net.Addr
}

func (q *connQueue) push(conn net.Conn) {
	select {
	case q.conns <- conn:
	case <-q.closed:
		_ = conn.Close()
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case conn := <-q.conns:
		return conn, nil
	case <-q.closed:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.closeOnce.Do(func() { close(q.closed) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }

// replayConn returns pending bytes before reading from Conn again.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
