package bootstrap

import (
	"fmt"
	"time"

	"github.com/keyward/keyward/application"
)

// CustomerConfig configures how customers find their orders again (the
// emailed sign-in link, the access token it gives, and how often one may be
// asked for) and how long they may report a key that does not work.
type CustomerConfig struct {
	CustomerLinkTTL      time.Duration `env:"KEYWARD_CUSTOMER_LINK_TTL" envDefault:"30m" doc:"how long a sign-in link emailed by \x60POST /v1/customer/access\x60 works (once)"`
	CustomerSessionTTL   time.Duration `env:"KEYWARD_CUSTOMER_SESSION_TTL" envDefault:"30m" doc:"how long the access token a sign-in link gives (\x60POST /v1/customer/sessions\x60) reads that address's orders; it is signed with \x60KEYWARD_TOKEN_SECRET\x60, not stored, so it cannot be revoked on its own"`
	CustomerAccessSource Rate          `env:"KEYWARD_CUSTOMER_ACCESS_RATE_LIMIT_PER_SOURCE" envDefault:"20/10m" doc:"sign-in links one client address may ask for, in the form of \x60KEYWARD_ORDER_RATE_LIMIT_PER_SOURCE\x60; over it: \x60429\x60 with \x60Retry-After\x60"`
	CustomerAccessEmail  Rate          `env:"KEYWARD_CUSTOMER_ACCESS_RATE_LIMIT_PER_EMAIL" envDefault:"3/30m" doc:"sign-in links for one address (case-folded, \x60+tag\x60 removed), in the same form: by default 3 at once, then one every 10 minutes, whether or not the address has orders"`
	ClaimWindow          time.Duration `env:"KEYWARD_CLAIM_WINDOW" envDefault:"336h" doc:"how long after its first reveal a key may be reported as not working (14 days)"`
	MaxReplacements      int           `env:"KEYWARD_MAX_REPLACEMENTS" envDefault:"1" doc:"how many approved claims replace one order item's keys; beyond it only an approval with \x60force: true\x60 does"`
}

func (c CustomerConfig) validate() error {
	if c.CustomerLinkTTL <= 0 || c.CustomerSessionTTL <= 0 {
		return fmt.Errorf("KEYWARD_CUSTOMER_LINK_TTL and KEYWARD_CUSTOMER_SESSION_TTL must be positive")
	}
	if c.ClaimWindow <= 0 {
		return fmt.Errorf("KEYWARD_CLAIM_WINDOW must be positive")
	}
	if c.MaxReplacements < 1 {
		return fmt.Errorf("KEYWARD_MAX_REPLACEMENTS must be at least 1 (an admin forces a replacement beyond it)")
	}
	return nil
}

func (c CustomerConfig) policy() application.CustomerAccessPolicy {
	return application.CustomerAccessPolicy{LinkTTL: c.CustomerLinkTTL, SessionTTL: c.CustomerSessionTTL}
}
