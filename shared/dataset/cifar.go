package dataset

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
)

// CIFAR-10 binary records: a label byte, then 32x32 red, green and blue
// planes (CHW).
const (
	cifarPixels  = 3 * 32 * 32
	cifarRecord  = 1 + cifarPixels
	cifarClasses = 10
	// maxCIFARMember bounds one archive member the reader loads; the
	// official batches hold 10,000 records (30,730,000 bytes).
	maxCIFARMember = 4 * 10000 * cifarRecord
)

// ReadCIFAR10 reads the records of the named members from a CIFAR-10
// binary tar archive (already decompressed) and returns their pixels (CHW,
// 3072 bytes an example) and labels, in the order of members.
//
// Member names are only compared with the wanted ones in memory: nothing is
// written to disk and archive paths are never used as file names. A wanted
// member that is missing, repeated, not a regular file, larger than the
// limit or not a whole number of records is refused.
func ReadCIFAR10(r io.Reader, members []string) (images []uint8, labels []int64, err error) {
	want := make(map[string]int, len(members))
	for i, m := range members {
		want[m] = i
	}
	// Members may come in any order; each is kept as compacted pixels
	// and labels until all are read.
	pix := make([][]uint8, len(members))
	labs := make([][]int64, len(members))
	seen := make([]bool, len(members))
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("cifar-10 archive: %w", noEOF(err))
		}
		i, ok := want[hdr.Name]
		if !ok {
			continue
		}
		if seen[i] {
			return nil, nil, fmt.Errorf("cifar-10 archive: member %s appears twice", hdr.Name)
		}
		seen[i] = true
		if hdr.Typeflag != tar.TypeReg {
			return nil, nil, fmt.Errorf("cifar-10 archive: member %s is not a regular file", hdr.Name)
		}
		if hdr.Size <= 0 || hdr.Size > maxCIFARMember || hdr.Size%cifarRecord != 0 {
			return nil, nil, fmt.Errorf("cifar-10 archive: member %s holds %d bytes, want a positive multiple of %d up to %d", hdr.Name, hdr.Size, cifarRecord, maxCIFARMember)
		}
		buf := make([]byte, hdr.Size)
		if _, err := io.ReadFull(tr, buf); err != nil {
			return nil, nil, fmt.Errorf("cifar-10 archive: member %s: %w", hdr.Name, noEOF(err))
		}
		n := len(buf) / cifarRecord
		labs[i] = make([]int64, n)
		for k := 0; k < n; k++ {
			l := buf[k*cifarRecord]
			if l >= cifarClasses {
				return nil, nil, fmt.Errorf("cifar-10 archive: member %s record %d: label %d, want 0 to %d", hdr.Name, k, l, cifarClasses-1)
			}
			labs[i][k] = int64(l)
			// Moving each image down over the label bytes compacts the
			// buffer in place: the destination never passes the source.
			copy(buf[k*cifarPixels:], buf[k*cifarRecord+1:(k+1)*cifarRecord])
		}
		pix[i] = buf[:n*cifarPixels]
	}
	total := 0
	for i, m := range members {
		if !seen[i] {
			return nil, nil, fmt.Errorf("cifar-10 archive: member %s is missing", m)
		}
		total += len(labs[i])
	}
	if len(members) == 1 {
		return pix[0], labs[0], nil
	}
	images = make([]uint8, 0, total*cifarPixels)
	labels = make([]int64, 0, total)
	for i := range members {
		images = append(images, pix[i]...)
		labels = append(labels, labs[i]...)
		pix[i], labs[i] = nil, nil
	}
	return images, labels, nil
}
