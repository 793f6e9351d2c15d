package monitor

import (
	"fmt"
	"math"
	"strconv"
)

// Float is a float64 that survives JSON when it is not a number: NaN and
// the infinities are written as the strings "NaN", "Infinity" and
// "-Infinity", as SageMaker Model Monitor writes them in its files (for
// example a standard_deviation it could not compute), and read back the
// same way.
type Float float64

// MarshalJSON writes f as a JSON number, or as a string when it is NaN or
// infinite.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Infinity"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON reads a JSON number or one of the strings MarshalJSON
// writes; null reads as NaN.
func (f *Float) UnmarshalJSON(b []byte) error {
	switch s := string(b); s {
	case `"NaN"`, "null":
		*f = Float(math.NaN())
		return nil
	case `"Infinity"`:
		*f = Float(math.Inf(1))
		return nil
	case `"-Infinity"`:
		*f = Float(math.Inf(-1))
		return nil
	default:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%s is not a number", s)
		}
		*f = Float(v)
		return nil
	}
}

// shortest32 rounds v to float32 and returns the float64 of its shortest
// decimal form, so that files read 11.8264 rather than 11.826399803161621
// while still naming the same float32 value.
func shortest32(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	f, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', -1, 32), 64)
	if err != nil {
		return v
	}
	return f
}

// canon32 maps a value read from a file onto the float32 grid the model's
// inputs live on, so that a bound written as 11.8264 compares equal to the
// float32 input 11.8264.
func canon32(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > math.MaxFloat32 {
		return v
	}
	return float64(float32(v))
}

// finite replaces NaN and infinities by 0, for fields of the Model Monitor
// schema that must be plain numbers.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}
