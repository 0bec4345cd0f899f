package provider

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// keyFileShape is what a service-account key file looks like, for error messages.
const keyFileShape = `a service-account key file as "gcloud iam service-accounts keys create" writes it: a JSON object with ` +
	`"type": "service_account", "client_email": "NAME@PROJECT.iam.gserviceaccount.com", "private_key": "-----BEGIN PRIVATE KEY-----...", ` +
	`"private_key_id", "project_id" and "token_uri"`

// readCredentialsFile reads the service-account key file at path and checks its shape, so that a broken
// file is named with what a key file looks like rather than with a JSON parser's error. No byte of the file
// goes into an error: parser errors quote the text they stop at, which may be key material.
func readCredentialsFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("credentialsFile %q cannot be read: %w (mount the service-account key file into piped, or leave credentialsFile empty to use Application Default Credentials)", path, err)
	}
	bad := func(why string) error {
		return fmt.Errorf("credentialsFile %q is not a service-account key file: %s; allowed %s", path, why, keyFileShape)
	}
	var key struct {
		Type        string `json:"type"`
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
	}
	if err := json.Unmarshal(data, &key); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, bad(fmt.Sprintf("it is not valid JSON (%d bytes, invalid at byte %d)", len(data), syntax.Offset))
		}
		return nil, bad(fmt.Sprintf("it is not a JSON object of strings (%d bytes)", len(data)))
	}
	switch {
	case key.Type != "service_account":
		return nil, bad(`field "type" is not "service_account"`)
	case key.ClientEmail == "":
		return nil, bad(`field "client_email" is missing`)
	case key.PrivateKey == "":
		return nil, bad(`field "private_key" is missing`)
	}
	return data, nil
}
