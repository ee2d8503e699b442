package engine

import "testing"

func TestTypeFits(t *testing.T) {
	tests := []struct {
		column, field string
		want          bool
	}{
		{"BIGINT", "number", true},
		{"DECIMAL(12,2)", "number", true},
		{"numeric", "currency", true},
		{"VARCHAR", "number", false},
		{"text", "double", false},
		{"BOOLEAN", "number", false},
		{"TIMESTAMP WITH TIME ZONE", "datetime", true},
		{"VARCHAR", "datetime", true}, // ISO text the vendor parses
		{"INTEGER", "datetime", false},
		{"DATE", "date", true},
		{"BOOLEAN", "bool", true},
		{"TINYINT", "boolean", true}, // MySQL's 0/1 booleans
		{"VARCHAR", "bool", false},
		{"JSON", "number", false},
		{"int4[]", "string", true}, // text fields take anything
		{"BIGINT", "string", true},
		{"GEOMETRY", "number", true}, // unknown kinds are not judged
		{"BIGINT", "enumeration", true},
	}
	for _, tt := range tests {
		if got := fits(warehouseClass(tt.column), destinationClass(tt.field)); got != tt.want {
			t.Errorf("column %s into field %s: fits = %v, want %v", tt.column, tt.field, got, tt.want)
		}
	}
}
