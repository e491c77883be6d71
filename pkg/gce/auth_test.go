package gce

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestTokenURLAuthenticatesRequests(t *testing.T) {
	t.Parallel()
	var gotBody string
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"accessToken":"tok-123","expireTime":"`+time.Now().Add(time.Hour).Format(time.RFC3339)+`"}`)
	}))
	defer tokens.Close()
	var gotAuth string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
	}))
	defer api.Close()

	cfg := &Config{APIEndpoint: "https://compute.example.test", TokenURL: tokens.URL, TokenBody: `{"scope":"compute"}`}
	hc, err := NewHTTPClient(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(api.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if gotAuth != "Bearer tok-123" {
		t.Errorf("Authorization = %q, want the token from token-url", gotAuth)
	}
	if gotBody != `{"scope":"compute"}` {
		t.Errorf("token-url got body %q, want token-body", gotBody)
	}
}

func TestHTTPEndpointNeedsNoCredentials(t *testing.T) {
	t.Parallel()
	var gotAuth string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
	}))
	defer api.Close()
	hc, err := NewHTTPClient(context.Background(), &Config{APIEndpoint: api.URL})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(api.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if gotAuth != "" {
		t.Errorf("Authorization = %q, want none for an http:// endpoint", gotAuth)
	}
}
