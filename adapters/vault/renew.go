package vault

import (
	"context"
	"fmt"

	"github.com/hashicorp/vault/api"
)

// KeepTokenAlive renews a renewable token in the background until ctx is
// done. Root and other non-expiring tokens (ttl 0) need nothing. When the
// token reaches its maximum TTL renewal stops and Vault calls start failing
// with ErrVaultUnavailable, which /readyz reports.
func (v *Vault) KeepTokenAlive(ctx context.Context) error {
	self, err := v.client.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return classify("look up token", err)
	}
	ttl, err := self.TokenTTL()
	if err != nil {
		return fmt.Errorf("token ttl: %w", err)
	}
	renewable, _ := self.TokenIsRenewable()
	if ttl == 0 || !renewable {
		return nil
	}
	w, err := v.client.NewLifetimeWatcher(&api.LifetimeWatcherInput{
		Secret: &api.Secret{Auth: &api.SecretAuth{ClientToken: v.client.Token(), Renewable: true, LeaseDuration: int(ttl.Seconds())}},
	})
	if err != nil {
		return fmt.Errorf("token watcher: %w", err)
	}
	go w.Start()
	go func() {
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case err := <-w.DoneCh():
				v.log.Error("vault token renewal ended; set a new token", "err", err)
				return
			case r := <-w.RenewCh():
				v.log.Debug("vault token renewed", "ttl_seconds", r.Secret.Auth.LeaseDuration)
			}
		}
	}()
	return nil
}
