package forest

// Unrolled kernels of the polynomial form (linearshap.go) for the common
// depths: the generic loop of linTree.contributions with the quadrature
// points in registers and the edge factors recomputed on the way up
// instead of stored. Keep the formulas the same as the loop's.

// vec3 and vec4 hold a node's values at the 3 or 4 quadrature points.
type (
	vec3 [3]float64
	vec4 [4]float64
)

// contributions3 is contributions for trees of at most 6 distinct
// features per path, with the 3-point rule unrolled. Values are written
// and read one float64 at a time through pointers (not as arrays), so
// that every load is forwarded from the store that wrote it; the edge
// factors are recomputed on the way up rather than stored.
func (tr *linTree) contributions3(t *Tree, row []float32, phi []float64, s *linScratch) {
	g := &gaussRules[3]
	A, D, mask := s.a3, s.d3, s.mask
	mask[0] = 0
	A[0] = vec3{g.w[0], g.w[1], g.w[2]}
	u0, t0 := g.u[0], g.t[0]
	u1, t1 := g.u[1], g.t[1]
	u2, t2 := g.u[2], g.t[2]
	for i := range tr.nodes {
		nd := &tr.nodes[i]
		m := mask[nd.node] | nd.newBit
		v := row[nd.feature]
		// goLeft is all ones when the row goes left, computed without a
		// branch on the value (half of all rows go each way).
		var goLeft uint32
		switch {
		case nd.categorical:
			n := &t.Nodes[nd.node]
			goLeft = -b2u(n.next(v) == n.Left)
		case v != v:
			goLeft = -b2u(nd.defaultLeft)
		default:
			goLeft = -b2u(v < nd.cond)
		}
		ml, mr := m&^(nd.bit&^goLeft), m&^(nd.bit&goLeft)
		mask[nd.left], mask[nd.right] = ml, mr
		ol, or := float64(b2u(ml&nd.bit != 0)), float64(b2u(mr&nd.bit != 0))
		zl, zr := float64(nd.zl), float64(nd.zr)
		a, al, ar := &A[nd.node], &A[nd.left], &A[nd.right]
		if nd.newBit != 0 {
			al[0], ar[0] = a[0]*(zl*u0+ol*t0), a[0]*(zr*u0+or*t0)
			al[1], ar[1] = a[1]*(zl*u1+ol*t1), a[1]*(zr*u1+or*t1)
			al[2], ar[2] = a[2]*(zl*u2+ol*t2), a[2]*(zr*u2+or*t2)
			continue
		}
		zp, op := float64(nd.zp), float64(b2u(m&nd.bit != 0))
		inv0 := a[0] / (zp*u0 + op*t0)
		al[0], ar[0] = (zl*u0+ol*t0)*inv0, (zr*u0+or*t0)*inv0
		inv1 := a[1] / (zp*u1 + op*t1)
		al[1], ar[1] = (zl*u1+ol*t1)*inv1, (zr*u1+or*t1)*inv1
		inv2 := a[2] / (zp*u2 + op*t2)
		al[2], ar[2] = (zl*u2+ol*t2)*inv2, (zr*u2+or*t2)*inv2
	}
	for _, lf := range tr.leaves {
		d := &D[lf.node]
		d[0] = lf.v
		d[1] = lf.v
		d[2] = lf.v
	}
	for i := len(tr.nodes) - 1; i >= 0; i-- {
		nd := &tr.nodes[i]
		ol := float64(b2u(mask[nd.left]&nd.bit != 0))
		or := float64(b2u(mask[nd.right]&nd.bit != 0))
		zl, zr := float64(nd.zl), float64(nd.zr)
		a, dl, dr, dn := &A[nd.node], &D[nd.left], &D[nd.right], &D[nd.node]
		cl, cr := ol-zl, or-zr
		if nd.newBit != 0 {
			dn[0] = (zl*u0+ol*t0)*dl[0] + (zr*u0+or*t0)*dr[0]
			dn[1] = (zl*u1+ol*t1)*dl[1] + (zr*u1+or*t1)*dr[1]
			dn[2] = (zl*u2+ol*t2)*dl[2] + (zr*u2+or*t2)*dr[2]
			phi[nd.feature] += a[0]*(dl[0]*cl+dr[0]*cr) + a[1]*(dl[1]*cl+dr[1]*cr) + a[2]*(dl[2]*cl+dr[2]*cr)
			continue
		}
		zp, op := float64(nd.zp), float64(b2u((mask[nd.node]|nd.newBit)&nd.bit != 0))
		c := op - zp
		inv0 := 1 / (zp*u0 + op*t0)
		el0, er0 := (zl*u0+ol*t0)*inv0, (zr*u0+or*t0)*inv0
		dn[0] = el0*dl[0] + er0*dr[0]
		inv1 := 1 / (zp*u1 + op*t1)
		el1, er1 := (zl*u1+ol*t1)*inv1, (zr*u1+or*t1)*inv1
		dn[1] = el1*dl[1] + er1*dr[1]
		inv2 := 1 / (zp*u2 + op*t2)
		el2, er2 := (zl*u2+ol*t2)*inv2, (zr*u2+or*t2)*inv2
		dn[2] = el2*dl[2] + er2*dr[2]
		phi[nd.feature] += a[0]*inv0*(dl[0]*(cl-c*el0)+dr[0]*(cr-c*er0)) +
			a[1]*inv1*(dl[1]*(cl-c*el1)+dr[1]*(cr-c*er1)) +
			a[2]*inv2*(dl[2]*(cl-c*el2)+dr[2]*(cr-c*er2))
	}
}

// contributions4 is contributions for trees of at most 8 distinct
// features per path, with the 4-point rule unrolled. Values are written
// and read one float64 at a time through pointers (not as arrays), so
// that every load is forwarded from the store that wrote it; the edge
// factors are recomputed on the way up rather than stored.
func (tr *linTree) contributions4(t *Tree, row []float32, phi []float64, s *linScratch) {
	g := &gaussRules[4]
	A, D, mask := s.a4, s.d4, s.mask
	mask[0] = 0
	A[0] = vec4{g.w[0], g.w[1], g.w[2], g.w[3]}
	u0, t0 := g.u[0], g.t[0]
	u1, t1 := g.u[1], g.t[1]
	u2, t2 := g.u[2], g.t[2]
	u3, t3 := g.u[3], g.t[3]
	for i := range tr.nodes {
		nd := &tr.nodes[i]
		m := mask[nd.node] | nd.newBit
		v := row[nd.feature]
		// goLeft is all ones when the row goes left, computed without a
		// branch on the value (half of all rows go each way).
		var goLeft uint32
		switch {
		case nd.categorical:
			n := &t.Nodes[nd.node]
			goLeft = -b2u(n.next(v) == n.Left)
		case v != v:
			goLeft = -b2u(nd.defaultLeft)
		default:
			goLeft = -b2u(v < nd.cond)
		}
		ml, mr := m&^(nd.bit&^goLeft), m&^(nd.bit&goLeft)
		mask[nd.left], mask[nd.right] = ml, mr
		ol, or := float64(b2u(ml&nd.bit != 0)), float64(b2u(mr&nd.bit != 0))
		zl, zr := float64(nd.zl), float64(nd.zr)
		a, al, ar := &A[nd.node], &A[nd.left], &A[nd.right]
		if nd.newBit != 0 {
			al[0], ar[0] = a[0]*(zl*u0+ol*t0), a[0]*(zr*u0+or*t0)
			al[1], ar[1] = a[1]*(zl*u1+ol*t1), a[1]*(zr*u1+or*t1)
			al[2], ar[2] = a[2]*(zl*u2+ol*t2), a[2]*(zr*u2+or*t2)
			al[3], ar[3] = a[3]*(zl*u3+ol*t3), a[3]*(zr*u3+or*t3)
			continue
		}
		zp, op := float64(nd.zp), float64(b2u(m&nd.bit != 0))
		inv0 := a[0] / (zp*u0 + op*t0)
		al[0], ar[0] = (zl*u0+ol*t0)*inv0, (zr*u0+or*t0)*inv0
		inv1 := a[1] / (zp*u1 + op*t1)
		al[1], ar[1] = (zl*u1+ol*t1)*inv1, (zr*u1+or*t1)*inv1
		inv2 := a[2] / (zp*u2 + op*t2)
		al[2], ar[2] = (zl*u2+ol*t2)*inv2, (zr*u2+or*t2)*inv2
		inv3 := a[3] / (zp*u3 + op*t3)
		al[3], ar[3] = (zl*u3+ol*t3)*inv3, (zr*u3+or*t3)*inv3
	}
	for _, lf := range tr.leaves {
		d := &D[lf.node]
		d[0] = lf.v
		d[1] = lf.v
		d[2] = lf.v
		d[3] = lf.v
	}
	// Nodes whose children are both leaves: their bottom-up values and
	// contributions straight from the leaf values, after every top-down
	// product and before any node above reads their D.
	for i := range tr.bottom {
		b := &tr.bottom[i]
		nd := &b.linNode
		m := mask[nd.node] | nd.newBit
		v := row[nd.feature]
		var goLeft uint32
		if v != v {
			goLeft = -b2u(nd.defaultLeft)
		} else {
			goLeft = -b2u(v < nd.cond)
		}
		ml, mr := m&^(nd.bit&^goLeft), m&^(nd.bit&goLeft)
		ol, or := float64(b2u(ml&nd.bit != 0)), float64(b2u(mr&nd.bit != 0))
		zl, zr := float64(nd.zl), float64(nd.zr)
		vl, vr := b.vl, b.vr
		a, dn := &A[nd.node], &D[nd.node]
		cl, cr := ol-zl, or-zr
		if nd.newBit != 0 {
			dn[0] = (zl*u0+ol*t0)*vl + (zr*u0+or*t0)*vr
			dn[1] = (zl*u1+ol*t1)*vl + (zr*u1+or*t1)*vr
			dn[2] = (zl*u2+ol*t2)*vl + (zr*u2+or*t2)*vr
			dn[3] = (zl*u3+ol*t3)*vl + (zr*u3+or*t3)*vr
			phi[nd.feature] += (a[0] + a[1] + a[2] + a[3]) * (vl*cl + vr*cr)
			continue
		}
		zp, op := float64(nd.zp), float64(b2u(m&nd.bit != 0))
		c := op - zp
		inv0 := 1 / (zp*u0 + op*t0)
		el0, er0 := (zl*u0+ol*t0)*inv0, (zr*u0+or*t0)*inv0
		dn[0] = el0*vl + er0*vr
		inv1 := 1 / (zp*u1 + op*t1)
		el1, er1 := (zl*u1+ol*t1)*inv1, (zr*u1+or*t1)*inv1
		dn[1] = el1*vl + er1*vr
		inv2 := 1 / (zp*u2 + op*t2)
		el2, er2 := (zl*u2+ol*t2)*inv2, (zr*u2+or*t2)*inv2
		dn[2] = el2*vl + er2*vr
		inv3 := 1 / (zp*u3 + op*t3)
		el3, er3 := (zl*u3+ol*t3)*inv3, (zr*u3+or*t3)*inv3
		dn[3] = el3*vl + er3*vr
		phi[nd.feature] += a[0]*inv0*(vl*(cl-c*el0)+vr*(cr-c*er0)) +
			a[1]*inv1*(vl*(cl-c*el1)+vr*(cr-c*er1)) +
			a[2]*inv2*(vl*(cl-c*el2)+vr*(cr-c*er2)) +
			a[3]*inv3*(vl*(cl-c*el3)+vr*(cr-c*er3))
	}
	for i := len(tr.nodes) - 1; i >= 0; i-- {
		nd := &tr.nodes[i]
		ol := float64(b2u(mask[nd.left]&nd.bit != 0))
		or := float64(b2u(mask[nd.right]&nd.bit != 0))
		zl, zr := float64(nd.zl), float64(nd.zr)
		a, dl, dr, dn := &A[nd.node], &D[nd.left], &D[nd.right], &D[nd.node]
		cl, cr := ol-zl, or-zr
		if nd.newBit != 0 {
			dn[0] = (zl*u0+ol*t0)*dl[0] + (zr*u0+or*t0)*dr[0]
			dn[1] = (zl*u1+ol*t1)*dl[1] + (zr*u1+or*t1)*dr[1]
			dn[2] = (zl*u2+ol*t2)*dl[2] + (zr*u2+or*t2)*dr[2]
			dn[3] = (zl*u3+ol*t3)*dl[3] + (zr*u3+or*t3)*dr[3]
			phi[nd.feature] += a[0]*(dl[0]*cl+dr[0]*cr) + a[1]*(dl[1]*cl+dr[1]*cr) + a[2]*(dl[2]*cl+dr[2]*cr) + a[3]*(dl[3]*cl+dr[3]*cr)
			continue
		}
		zp, op := float64(nd.zp), float64(b2u((mask[nd.node]|nd.newBit)&nd.bit != 0))
		c := op - zp
		inv0 := 1 / (zp*u0 + op*t0)
		el0, er0 := (zl*u0+ol*t0)*inv0, (zr*u0+or*t0)*inv0
		dn[0] = el0*dl[0] + er0*dr[0]
		inv1 := 1 / (zp*u1 + op*t1)
		el1, er1 := (zl*u1+ol*t1)*inv1, (zr*u1+or*t1)*inv1
		dn[1] = el1*dl[1] + er1*dr[1]
		inv2 := 1 / (zp*u2 + op*t2)
		el2, er2 := (zl*u2+ol*t2)*inv2, (zr*u2+or*t2)*inv2
		dn[2] = el2*dl[2] + er2*dr[2]
		inv3 := 1 / (zp*u3 + op*t3)
		el3, er3 := (zl*u3+ol*t3)*inv3, (zr*u3+or*t3)*inv3
		dn[3] = el3*dl[3] + er3*dr[3]
		phi[nd.feature] += a[0]*inv0*(dl[0]*(cl-c*el0)+dr[0]*(cr-c*er0)) +
			a[1]*inv1*(dl[1]*(cl-c*el1)+dr[1]*(cr-c*er1)) +
			a[2]*inv2*(dl[2]*(cl-c*el2)+dr[2]*(cr-c*er2)) +
			a[3]*inv3*(dl[3]*(cl-c*el3)+dr[3]*(cr-c*er3))
	}
}
