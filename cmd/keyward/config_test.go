package main_test

import (
	"bytes"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/keyward/keyward/bootstrap"
)

// runConfig runs `keyward config args...` with only env set.
func runConfig(t *testing.T, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(binary, append([]string{"config"}, args...)...)
	cmd.Env = append([]string{}, env...) // nothing inherited from the caller
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// TestConfigCommandMasksSecrets: `keyward config` lists every variable and
// where its value came from, and prints no secret.
func TestConfigCommandMasksSecrets(t *testing.T) {
	t.Parallel()
	secrets := map[string]string{
		"KEYWARD_NOWPAYMENTS_IPN_SECRET": "ipn-s3cret",
		"KEYWARD_ADMIN_API_KEYS":         "admin-s3cret-a,admin-s3cret-b",
		"KEYWARD_PAGE_SECRET":            "page-s3cret",
		"KEYWARD_VAULT_TOKEN":            "vault-s3cret",
		"VAULT_CLIENT_KEY":               "/etc/client-s3cret.pem",
		"KEYWARD_DATABASE_URL":           "postgres://keyward:db-s3cret@db.example/keyward",
		"KEYWARD_S3_ENDPOINT":            "https://ak:s3-s3cret@s3.example",
		"VAULT_ADDR":                     "https://ops:vault-s3cret@vault.example:8200",
		"KEYWARD_PUBLIC_BASE_URL":        "https://shop:base-s3cret@127.0.0.1:8443",
	}
	env := []string{"KEYWARD_MAIL_DIR=/srv/mail", "VAULT_TOKEN=fallback-s3cret"}
	for k, v := range secrets {
		env = append(env, k+"="+v)
	}
	out, stderr, err := runConfig(t, env)
	if err != nil {
		t.Fatalf("keyward config: %v\n%s", err, stderr)
	}
	if strings.Contains(out+stderr, "s3cret") {
		t.Fatalf("a secret is printed:\n%s%s", out, stderr)
	}
	for _, v := range bootstrap.ConfigVariables() {
		if !strings.Contains(out, v.Name) {
			t.Errorf("%s missing from:\n%s", v.Name, out)
		}
	}
	for _, want := range []string{
		`(?m)^KEYWARD_MAIL_DIR +/srv/mail +environment$`,
		`(?m)^KEYWARD_HTTP_ADDR +127\.0\.0\.1:8080 +default$`,
		`(?m)^KEYWARD_DATABASE_URL +postgres://keyward:xxxxx@db\.example/keyward +environment$`,
		`(?m)^KEYWARD_PAGE_SECRET +\*+ +environment$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}

// TestConfigCommandRejectsBadValues names the variable and fails.
func TestConfigCommandRejectsBadValues(t *testing.T) {
	t.Parallel()
	_, stderr, err := runConfig(t, []string{"KEYWARD_DELIVERY_LINK_TTL=banana"})
	if err == nil || !strings.Contains(stderr, `KEYWARD_DELIVERY_LINK_TTL="banana"`) {
		t.Fatalf("bad duration: %v, stderr %q", err, stderr)
	}
}

// TestConfigCommandMarkdown prints the table the README carries.
func TestConfigCommandMarkdown(t *testing.T) {
	t.Parallel()
	out, stderr, err := runConfig(t, nil, "--markdown")
	if err != nil || out != bootstrap.ConfigMarkdown() {
		t.Fatalf("keyward config --markdown: %v %s\n%s", err, stderr, out)
	}
}
