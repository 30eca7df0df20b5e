package kubeadm

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// Test secrets: well-formed, obviously fake.
const (
	testToken   = "abcdef.0123456789abcdef"
	testKey     = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	testCAHash  = "sha256:ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
	labEndpoint = "192.0.2.11"
)

// splitDocuments splits a multi-document YAML stream the way
// marshalDocuments joins it.
func splitDocuments(t *testing.T, b []byte) []string {
	t.Helper()
	docs := strings.Split(string(b), "\n---\n")
	for i, d := range docs {
		if strings.TrimSpace(d) == "" {
			t.Fatalf("document %d is empty in:\n%s", i+1, b)
		}
	}
	return docs
}

// decodeMap decodes one YAML document into a generic map.
func decodeMap(t *testing.T, doc string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("decode %q: %v", doc, err)
	}
	return m
}

// byKind decodes every document of a stream and indexes it by kind.
func byKind(t *testing.T, b []byte) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, d := range splitDocuments(t, b) {
		m := decodeMap(t, d)
		kind, _ := m["kind"].(string)
		if _, dup := out[kind]; dup {
			t.Fatalf("kind %q twice", kind)
		}
		out[kind] = m
	}
	return out
}

// at walks a decoded document along keys (map keys; int for list items).
func at(t *testing.T, m any, path ...any) any {
	t.Helper()
	cur := m
	for _, p := range path {
		switch k := p.(type) {
		case string:
			mm, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = mm[k]
		case int:
			l, ok := cur.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			cur = l[k]
		}
	}
	return cur
}
