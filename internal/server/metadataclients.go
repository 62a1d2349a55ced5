package server

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/cimd"
	"github.com/gatehouse/gatehouse/internal/grant"
)

// metadataClients are the clients known by a Client ID Metadata Document,
// as the grant engine sees them (grant.MetadataClients): resolved with
// internal/cimd, each document's grant.Client made once and reused while
// the document is cached, so a cached client costs the token endpoint no
// more than a configured one.
type metadataClients struct {
	r    *cimd.Resolver
	made sync.Map // client ID → madeClient
}

type madeClient struct {
	src *cimd.Client
	gc  *grant.Client
}

func newMetadataClients(m *config.MetadataClients, transport *http.Transport) *metadataClients {
	return &metadataClients{r: cimd.New(cimd.Policy{AllowedHosts: m.AllowedHosts, AllowLoopback: m.AllowLoopback, Transport: transport})}
}

// Client implements grant.MetadataClients.
func (m *metadataClients) Client(ctx context.Context, id string) (*grant.Client, bool, error) {
	if !cimd.IsMetadataURL(id) {
		return nil, false, nil
	}
	c, err := m.r.Resolve(ctx, id)
	if err != nil {
		return nil, true, err
	}
	if v, ok := m.made.Load(id); ok && v.(madeClient).src == c {
		return v.(madeClient).gc, true, nil
	}
	if c.AuthMethod != "none" {
		// private_key_jwt comes with issue 14's client assertions.
		return nil, true, errors.New("this server accepts only public metadata-document clients (token_endpoint_auth_method none)")
	}
	gc := &grant.Client{ID: c.ID, RedirectURIs: c.RedirectURIs, PKCERequired: true, Metadata: true,
		Name: c.Name, RedirectHosts: c.RedirectHosts, LoopbackOnly: c.LoopbackOnly}
	m.made.Store(id, madeClient{src: c, gc: gc})
	return gc, true, nil
}
