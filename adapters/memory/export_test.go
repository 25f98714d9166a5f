package memory

// Waiting returns how many callers wait for a link a unit of work holds.
func (r *CustomerLinks) Waiting() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return *r.rows.waiters
}
