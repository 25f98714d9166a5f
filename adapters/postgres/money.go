package postgres

import (
	"database/sql"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
)

// money rebuilds Money from a numeric column and a currency column; it
// returns domain.ErrInvalidMoney for values the domain would never write.
func money(amount decimal.Decimal, currency string) (domain.Money, error) {
	cur, err := domain.ParseCurrency(currency)
	if err != nil {
		return domain.Money{}, err
	}
	return domain.MoneyFromDecimal(amount, cur)
}

// nullMoney maps Money to nullable columns: the zero Money (no currency,
// as an own-stock cost may be) is NULL.
func nullMoney(m domain.Money) (decimal.NullDecimal, sql.NullString) {
	if m.Currency().IsZero() {
		return decimal.NullDecimal{}, sql.NullString{}
	}
	return decimal.NullDecimal{Decimal: m.Amount(), Valid: true}, sql.NullString{String: m.Currency().String(), Valid: true}
}

// moneyFromNull is the inverse of nullMoney.
func moneyFromNull(amount decimal.NullDecimal, currency sql.NullString) (domain.Money, error) {
	if !currency.Valid {
		return domain.Money{}, nil
	}
	return money(amount.Decimal, currency.String)
}
