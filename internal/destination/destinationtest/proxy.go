package destinationtest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy on 127.0.0.1 in front of a server, which can break
// the connections through it: what a destination speaking a wire protocol
// (Redis, PostgreSQL, MariaDB, AMQP, NATS) meets when a server crashes,
// restarts or is cut off by the network while a request is out.
type Proxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	links    map[*link]struct{}
	budget   int // connections still to break
	failures int // requests that met a broken connection
}

// link is one client's connection and the proxy's to the server.
type link struct {
	client, server net.Conn
	doomed         bool // broken when the client next sends
}

// NewProxy starts a proxy to target (host:port); it stops when the test
// ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy to %s: listen: %v", target, err)
	}
	p := &Proxy{ln: ln, target: target, links: map[*link]struct{}{}}
	var wg sync.WaitGroup
	wg.Go(func() { p.serve(&wg) })
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for l := range p.links {
			l.client.Close()
			l.server.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut breaks the next n connections to send something: the open ones
// first, then new ones. A broken connection is closed, both ways, when its
// client next writes, without passing the bytes on — a request lost with
// its server, which a client cannot see coming (an idle connection still
// looks healthy).
func (p *Proxy) Cut(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.budget = n
	for l := range p.links {
		if p.budget == 0 {
			break
		}
		l.doomed = true
		p.budget--
	}
}

// Failures counts the requests that met a connection Cut broke.
func (p *Proxy) Failures() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failures
}

func (p *Proxy) serve(wg *sync.WaitGroup) {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed at the end of the test
		}
		wg.Go(func() { p.pipe(c) })
	}
}

// pipe copies both ways between a client and a new connection to the
// target until either side closes or the link is broken.
func (p *Proxy) pipe(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	l := &link{client: client, server: server}
	p.mu.Lock()
	p.links[l] = struct{}{}
	if p.budget > 0 {
		l.doomed = true
		p.budget--
	}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(client, server)
		done <- struct{}{}
	}()
	go func() {
		p.forward(l)
		done <- struct{}{}
	}()
	// Either direction ending closes both, which ends the other.
	<-done
	client.Close()
	server.Close()
	<-done
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// forward copies the client's bytes to the server until the link is
// doomed, counting the request it then drops.
func (p *Proxy) forward(l *link) {
	buf := make([]byte, 32<<10)
	for {
		n, err := l.client.Read(buf)
		if n > 0 {
			p.mu.Lock()
			doomed := l.doomed
			if doomed {
				p.failures++
			}
			p.mu.Unlock()
			if doomed {
				return
			}
			if _, werr := l.server.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
