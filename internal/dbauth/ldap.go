package dbauth

import (
	"bufio"
	"context"
	"errors"

	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// A minimal LDAPv3 responder for PostgreSQL's ldap method in simple-bind mode: PostgreSQL
// connects, sends one BindRequest with the bind DN (ldapprefix + login role + ldapsuffix)
// and the client's password, reads the BindResponse and unbinds. Nothing else is spoken,
// so only BindRequest and UnbindRequest are understood; anything else ends the connection.
// (No maintained Go LDAP server library fits; these 150 lines are the whole protocol used.)

// BER tags used (RFC 4511).
const (
	tagSequence      = 0x30
	tagInteger       = 0x02
	tagOctetString   = 0x04
	tagEnumerated    = 0x0a
	tagBindRequest   = 0x60 // [APPLICATION 0] constructed
	tagBindResponse  = 0x61 // [APPLICATION 1] constructed
	tagUnbindRequest = 0x42 // [APPLICATION 2] primitive
	tagSimpleAuth    = 0x80 // [0] primitive: the password

	resultSuccess            = 0
	resultProtocolError      = 2
	resultInvalidCredentials = 49

	maxMessage = 64 << 10 // a token is about 1 KiB; anything far larger is not PostgreSQL

	// maxConnsPerAccount is the most connections one OS account holds open to the
	// responder at once: any local process can connect, and one account's idle
	// connections must not take serve's descriptors or the other accounts' turn. A
	// server's binds are one per login being authenticated, and short.
	maxConnsPerAccount = 64
)

// BindFunc decides one simple bind: nil admits it. The error is for the audit log only.
type BindFunc func(ctx context.Context, dn, password string) error

// LDAPServer answers PostgreSQL's binds on a loopback listener.
type LDAPServer struct {
	ln   net.Listener
	bind BindFunc
	log  *slog.Logger
	wg   sync.WaitGroup

	mu   sync.Mutex
	open map[uint32]int // connections open per account (noAccount: unknown)
}

// noAccount stands for the accounts peerUID cannot tell.
const noAccount = ^uint32(0)

// ListenLDAP starts a responder on addr (127.0.0.1:0 picks a port).
func ListenLDAP(addr string, bind BindFunc, log *slog.Logger) (*LDAPServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &LDAPServer{ln: ln, bind: bind, log: log, open: map[uint32]int{}}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Port is the listener's port, for pg_hba.conf's ldapport.
func (s *LDAPServer) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Close stops accepting and waits for the binds in progress.
func (s *LDAPServer) Close() error {
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *LDAPServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		uid, ok := s.admit(c)
		if !ok {
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.release(uid)
			s.handle(c)
		}()
	}
}

// admit counts c under its account (the kernel's owner of the other end's socket), unless
// that account holds maxConnsPerAccount already.
func (s *LDAPServer) admit(c net.Conn) (uint32, bool) {
	uid := noAccount
	r, ok1 := c.RemoteAddr().(*net.TCPAddr)
	l, ok2 := c.LocalAddr().(*net.TCPAddr)
	if ok1 && ok2 {
		if u, err := peerUID(r.AddrPort(), l.AddrPort()); err == nil {
			uid = u
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open[uid] >= maxConnsPerAccount {
		return uid, false
	}
	s.open[uid]++
	return uid, true
}

func (s *LDAPServer) release(uid uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open[uid]--; s.open[uid] <= 0 {
		delete(s.open, uid)
	}
}

func (s *LDAPServer) handle(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		tag, msg, err := readTLV(r)
		if err != nil || tag != tagSequence {
			return
		}
		id, op, opBody, err := parseMessage(msg)
		if err != nil {
			return
		}
		switch op {
		case tagUnbindRequest:
			return
		case tagBindRequest:
			dn, password, err := parseBind(opBody)
			code := resultInvalidCredentials
			if err != nil {
				code = resultProtocolError
			} else if s.bind(withLDAPConn(context.Background(), c), dn, password) == nil {
				code = resultSuccess
			}
			if _, err := c.Write(bindResponse(id, code)); err != nil || code == resultProtocolError {
				return
			}
		default:
			return
		}
	}
}

// readTLV reads one BER element: its tag and contents.
func readTLV(r io.ByteReader) (byte, []byte, error) {
	tag, err := r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, err := readLength(r)
	if err != nil {
		return 0, nil, err
	}
	// Grown as the bytes arrive: a length alone, which costs the peer 4 bytes, allocates
	// nothing.
	body := make([]byte, 0, min(n, 512))
	for len(body) < n {
		b, err := r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		body = append(body, b)
	}
	return tag, body, nil
}

func readLength(r io.ByteReader) (int, error) {
	b, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	if b < 0x80 {
		return int(b), nil
	}
	octets := int(b & 0x7f)
	if octets == 0 || octets > 3 {
		return 0, errors.New("ldap: unsupported length")
	}
	n := 0
	for range octets {
		if b, err = r.ReadByte(); err != nil {
			return 0, err
		}
		n = n<<8 | int(b)
	}
	if n > maxMessage {
		return 0, errors.New("ldap: message too large")
	}
	return n, nil
}

// elements splits a constructed element's contents into its children.
func elements(b []byte) ([]tlv, error) {
	var out []tlv
	r := &sliceReader{b: b}
	for r.i < len(b) {
		tag, body, err := readTLV(r)
		if err != nil {
			return nil, err
		}
		out = append(out, tlv{tag, body})
	}
	return out, nil
}

type tlv struct {
	tag  byte
	body []byte
}

type sliceReader struct {
	b []byte
	i int
}

func (r *sliceReader) ReadByte() (byte, error) {
	if r.i >= len(r.b) {
		return 0, io.ErrUnexpectedEOF
	}
	r.i++
	return r.b[r.i-1], nil
}

// parseMessage reads an LDAPMessage: messageID, then the operation (controls ignored).
func parseMessage(b []byte) (id int, op byte, body []byte, err error) {
	els, err := elements(b)
	if err != nil || len(els) < 2 || els[0].tag != tagInteger || len(els[0].body) == 0 || len(els[0].body) > 4 {
		return 0, 0, nil, errors.New("ldap: malformed message")
	}
	for _, x := range els[0].body {
		id = id<<8 | int(x)
	}
	return id, els[1].tag, els[1].body, nil
}

// parseBind reads a BindRequest: version 3, name, simple authentication.
func parseBind(b []byte) (dn, password string, err error) {
	els, err := elements(b)
	if err != nil || len(els) != 3 || els[0].tag != tagInteger || len(els[0].body) != 1 || els[0].body[0] != 3 ||
		els[1].tag != tagOctetString || els[2].tag != tagSimpleAuth {
		return "", "", errors.New("ldap: not a version 3 simple bind")
	}
	return string(els[1].body), string(els[2].body), nil
}

// bindResponse encodes a BindResponse with an empty matched DN and message.
func bindResponse(id, code int) []byte {
	var idBytes []byte
	for v := id; ; v >>= 8 {
		idBytes = append([]byte{byte(v)}, idBytes...)
		if v < 0x80 {
			break
		}
	}
	result := encode(tagEnumerated, []byte{byte(code)})
	result = append(result, encode(tagOctetString, nil)...)
	result = append(result, encode(tagOctetString, nil)...)
	msg := append(encode(tagInteger, idBytes), encode(tagBindResponse, result)...)
	return encode(tagSequence, msg)
}

func encode(tag byte, body []byte) []byte {
	n := len(body)
	var head []byte
	switch {
	case n < 0x80:
		head = []byte{tag, byte(n)}
	case n < 0x100:
		head = []byte{tag, 0x81, byte(n)}
	default:
		head = []byte{tag, 0x82, byte(n >> 8), byte(n)}
	}
	return append(head, body...)
}
