package stack

import (
	"encoding/json"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// StackFile is the config of a Pulumi.<stack>.yaml read without the Pulumi
// CLI. Secret values stay encrypted: only the fact that they are set and
// secret is known.
type StackFile struct {
	values  map[string]string
	secrets map[string]bool
}

// ReadStackFile reads the `config:` section of a Pulumi stack file. Object and
// array values become JSON, as the Pulumi engine hands them to programs.
func ReadStackFile(path string) (*StackFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sf := &StackFile{values: map[string]string{}, secrets: map[string]bool{}}
	for key, v := range doc.Config {
		if m, ok := v.(map[string]any); ok && len(m) == 1 {
			if enc, ok := m["secure"].(string); ok {
				sf.values[key] = enc
				sf.secrets[key] = true
				continue
			}
		}
		if s, ok := v.(string); ok {
			sf.values[key] = s
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, key, err)
		}
		sf.values[key] = string(b)
	}
	return sf, nil
}

// Lookup returns a key's raw value (ciphertext for secrets).
func (s *StackFile) Lookup(key string) (string, bool) {
	v, ok := s.values[key]
	return v, ok
}

// IsSecret says whether the key holds an encrypted value.
func (s *StackFile) IsSecret(key string) bool { return s.secrets[key] }

// Values returns a copy of every key's raw value.
func (s *StackFile) Values() map[string]string {
	out := make(map[string]string, len(s.values))
	for k, v := range s.values {
		out[k] = v
	}
	return out
}
