package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// A private_key_jwt client's keys: inline (jwks) or at a URL the client
// publishes (jwks_uri), fetched on first use, kept an hour, and fetched
// again when an assertion names a key id the set lacks (the client rotated),
// at most every ten seconds, so unknown ids cannot make Gatehouse hammer
// the URL. Fetches are bounded in size and time.

const (
	clientKeysTTL        = time.Hour
	clientKeysMinRefetch = 10 * time.Second
	maxClientKeysBytes   = 64 << 10
	clientKeysTimeout    = 5 * time.Second
)

// clientKeys finds the keys that may have signed an assertion.
type clientKeys interface {
	// candidates returns the keys with kid (every key when kid is "").
	candidates(ctx context.Context, kid string) ([]jose.JSONWebKey, error)
}

// staticKeys are keys configured inline.
type staticKeys struct{ set *jose.JSONWebKeySet }

func (s staticKeys) candidates(_ context.Context, kid string) ([]jose.JSONWebKey, error) {
	if kid == "" {
		return s.set.Keys, nil
	}
	return s.set.Key(kid), nil
}

// remoteKeys are keys fetched from the client's jwks_uri.
type remoteKeys struct {
	url    string
	client *http.Client
	now    func() time.Time

	mu        sync.Mutex
	set       *jose.JSONWebKeySet
	fetchedAt time.Time
	// triedAt is the last fetch made for a stale or missing set;
	// unknownAt the last made because a key id was unknown. Each kind is
	// at most one per clientKeysMinRefetch.
	triedAt, unknownAt time.Time
}

// newRemoteKeys fetches from url, which the operator configured (clients
// that name their own documents — metadata documents, registration — cannot
// use private_key_jwt yet). It may therefore name an internal host, unlike
// a metadata document's URL (internal/cimd fences those to public
// addresses), but never a link-local one: that is where clouds serve
// instance credentials, and no key set lives there.
func newRemoteKeys(url string, now func() time.Time) *remoteKeys {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: clientKeysTimeout, Control: notLinkLocal}).DialContext
	return &remoteKeys{url: url, now: now, client: &http.Client{Timeout: clientKeysTimeout, Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return errors.New("jwks_uri redirects") }}}
}

// notLinkLocal refuses, at connect time, link-local, multicast and
// unspecified addresses.
func notLinkLocal(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return err
	}
	if a := ap.Addr().Unmap(); a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() || a.IsInterfaceLocalMulticast() {
		return fmt.Errorf("jwks_uri: address %s is link-local or not a host", a)
	}
	return nil
}

func (r *remoteKeys) candidates(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	stale := (r.set == nil || now.Sub(r.fetchedAt) > clientKeysTTL) && now.Sub(r.triedAt) >= clientKeysMinRefetch
	unknown := !stale && r.set != nil && kid != "" && len(r.set.Key(kid)) == 0 && now.Sub(r.unknownAt) >= clientKeysMinRefetch
	if stale || unknown {
		if stale {
			r.triedAt = now
		} else {
			r.unknownAt = now
		}
		if set, err := r.fetch(ctx); err == nil {
			r.set, r.fetchedAt = set, now
		} else if r.set == nil {
			return nil, err
		}
	}
	if r.set == nil {
		return nil, errors.New("the client's jwks_uri could not be fetched")
	}
	return staticKeys{r.set}.candidates(ctx, kid)
}

func (r *remoteKeys) fetch(ctx context.Context) (*jose.JSONWebKeySet, error) {
	ctx, cancel := context.WithTimeout(ctx, clientKeysTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching jwks_uri: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks_uri answered HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxClientKeysBytes+1))
	if err != nil || len(body) > maxClientKeysBytes {
		return nil, errors.New("jwks_uri's document is unreadable or larger than 64 KiB")
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, errors.New("jwks_uri's document is not a JSON object")
	}
	return parseClientKeys(m)
}
