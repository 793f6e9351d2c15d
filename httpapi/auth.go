package httpapi

import (
	"container/list"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// APIKey is one client's credential as configuration stores it: a name for
// logs, metrics and rate limits, and the SHA-256 of the secret, never the
// secret itself.
type APIKey struct {
	Name string
	Hash [sha256.Size]byte
	// Admin allows POST /admin/reload.
	Admin bool
}

// HashKey returns the hex SHA-256 of a secret, the form configuration
// stores.
func HashKey(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// ParseAPIKey parses "name:sha256hex" or "name:sha256hex:admin".
func ParseAPIKey(spec string) (APIKey, error) {
	parts := strings.Split(strings.TrimSpace(spec), ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return APIKey{}, fmt.Errorf("api key %q: want name:sha256hex or name:sha256hex:admin", spec)
	}
	k := APIKey{Name: parts[0]}
	if len(parts) == 3 {
		if parts[2] != "admin" {
			return APIKey{}, fmt.Errorf("api key %q: the third part may only be \"admin\"", parts[0])
		}
		k.Admin = true
	}
	if err := k.setHash(parts[1]); err != nil {
		return APIKey{}, err
	}
	return k, nil
}

// NewAPIKey returns a key from its name, hex SHA-256 and role.
func NewAPIKey(name, sha256Hex string, admin bool) (APIKey, error) {
	if name == "" {
		return APIKey{}, fmt.Errorf("api key with hash %.8s...: name is empty", sha256Hex)
	}
	k := APIKey{Name: name, Admin: admin}
	if err := k.setHash(sha256Hex); err != nil {
		return APIKey{}, err
	}
	return k, nil
}

func (k *APIKey) setHash(sha256Hex string) error {
	b, err := hex.DecodeString(strings.TrimSpace(sha256Hex))
	if err != nil || len(b) != sha256.Size {
		return fmt.Errorf("api key %q: hash must be 64 hex digits (the SHA-256 of the key, e.g. printf %%s KEY | sha256sum)", k.Name)
	}
	copy(k.Hash[:], b)
	return nil
}

// secret extracts the presented key from "Authorization: Bearer KEY" or
// "X-API-Key: KEY".
func secret(r *http.Request) (string, bool) {
	if v := header(r, "X-Api-Key"); v != "" {
		return v, true
	}
	if v := header(r, "Authorization"); len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:]), true
	}
	return "", false
}

// header returns the first value of a header given in canonical form,
// skipping the canonicalization r.Header.Get repeats on every call.
func header(r *http.Request, canonicalKey string) string {
	if v := r.Header[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// authenticate returns the key matching the request's credential: nil and
// presented=false when none was sent, nil and presented=true when it
// matches no key. Every stored hash is compared, in constant time. With no
// keys configured, credentials are ignored.
func (s *Server) authenticate(r *http.Request) (key *APIKey, presented bool) {
	if len(s.keys) == 0 {
		return nil, false // no keys configured: authentication is off
	}
	sec, ok := secret(r)
	if !ok {
		return nil, false
	}
	h := sha256.Sum256([]byte(sec))
	match := -1
	for i := range s.keys {
		if subtle.ConstantTimeCompare(h[:], s.keys[i].Hash[:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return nil, true
	}
	return &s.keys[match], true
}

// limiters holds the token buckets: one per configured key, and one per
// client address for anonymous requests, at most maxAnonymous of them.
type limiters struct {
	limit rate.Limit
	burst int
	keys  map[string]*rate.Limiter // read-only after construction

	mu sync.Mutex
	// ips holds the per-address buckets, in lru (most recently used at the
	// front) to find idle ones.
	ips map[string]*list.Element // of *addrBucket
	lru list.List
	// overflow is one bucket shared by new addresses while every tracked
	// address is still refilling its own (the table is full of addresses
	// in use, as when a client cycles through many).
	overflow *rate.Limiter
	max      int
}

// addrBucket is one client address's bucket.
type addrBucket struct {
	host string
	lim  *rate.Limiter
}

// maxAnonymous bounds the per-address buckets kept in memory.
const maxAnonymous = 10000

// evictScan is how many of the least recently used buckets a new address
// looks at for an idle one to replace.
const evictScan = 16

func newLimiters(perSecond float64, burst int, keys []APIKey) *limiters {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = int(math.Ceil(perSecond))
	}
	l := &limiters{limit: rate.Limit(perSecond), burst: burst,
		keys: make(map[string]*rate.Limiter, len(keys)), ips: make(map[string]*list.Element),
		overflow: rate.NewLimiter(rate.Limit(perSecond), burst), max: maxAnonymous}
	for _, k := range keys {
		l.keys[k.Name] = rate.NewLimiter(l.limit, burst)
	}
	return l
}

// allow takes a token for the key (or, when key is nil, the client
// address) and otherwise says how long until one is available.
func (l *limiters) allow(key *APIKey, remoteAddr string, now time.Time) (bool, time.Duration) {
	var lim *rate.Limiter
	if key != nil {
		lim = l.keys[key.Name]
	} else {
		lim = l.anonymous(remoteAddr, now)
	}
	if lim.AllowN(now, 1) {
		return true, 0
	}
	wait := (1 - lim.TokensAt(now)) / float64(l.limit)
	return false, time.Duration(wait * float64(time.Second))
}

// anonymous returns the bucket of the client address. A new address, when
// maxAnonymous are tracked, takes the place of an idle one (a full
// bucket: forgetting it changes nothing); when none of the least recently
// used is idle, it shares the overflow bucket. A bucket that still holds
// a debt is never dropped, so a client cycling through addresses cannot
// reset another's limit, only crowd new addresses into one shared bucket.
func (l *limiters) anonymous(remoteAddr string, now time.Time) *rate.Limiter {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.ips[host]; ok {
		l.lru.MoveToFront(e)
		return e.Value.(*addrBucket).lim
	}
	if len(l.ips) >= l.max {
		e := l.lru.Back()
		for range evictScan {
			if e == nil {
				break
			}
			if b := e.Value.(*addrBucket); b.lim.TokensAt(now) >= float64(l.burst) {
				delete(l.ips, b.host)
				l.lru.Remove(e)
				break
			}
			e = e.Prev()
		}
		if len(l.ips) >= l.max {
			return l.overflow
		}
	}
	b := &addrBucket{host: strings.Clone(host), lim: rate.NewLimiter(l.limit, l.burst)}
	l.ips[b.host] = l.lru.PushFront(b)
	return b.lim
}
