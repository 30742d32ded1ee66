//go:build amd64 && !purego

package kernels

// winoInAVX2 is WinogradIn for 8·groups tiles, eight at a time, their
// outputs consecutive: the first four tiles of a group read rows from
// where the group starts, the other four from half elements further, and
// each group starts step elements after the one before (8 and 16 for a
// row of tiles, 2·wp and 4·wp for two rows of four). AVX2.
//
//go:noescape
func winoInAVX2(v *float32, stride int, rows *float32, wp, groups, half, step int)

// winoOutAVX2 is WinogradOut for 8·groups tiles, eight at a time, their
// outputs placed as winoInAVX2's inputs are (half, step). AVX2.
//
//go:noescape
func winoOutAVX2(y *float32, ldy int, m *float32, stride, groups, half, step int)

// winoOutAdjAVX2 is WinogradOutAdj for 8·groups tiles, eight at a time,
// their inputs placed as winoInAVX2's are (half, step). AVX2.
//
//go:noescape
func winoOutAdjAVX2(z *float32, stride int, dy *float32, ldy, groups, half, step int)
