# carry.sh, sourced by point.sh, final.sh and best.sh: results that outlive
# the machine. With CARRY set (cells.mk sets it to the study's
# RESULTS/partial/CELL, which is committed), each finished unit's JSON is
# copied there, and a later run, on a fresh machine that has retrained the
# cell, takes the unit from there instead of measuring it again, but only
# when it was measured on the same weights as the checkpoint at hand
# (sgn-study same-weights): the study pins its kernels so that a retraining
# gives the same weights bit for bit, and a carried unit of other weights
# is measured again.

# carried OUT MODEL [TRANSFER]: when CARRY holds OUT's unit, measured on
# MODEL's weights (and its transfer attack crafted on TRANSFER's), copy it
# to OUT and succeed.
carried() {
	local out=$1 model=$2 transfer=${3:-} from
	[ -n "${CARRY:-}" ] || return 1
	from=$CARRY/$(basename "$out")
	[ -f "$from" ] || return 1
	if [ "$("$BIN/sgn-study" same-weights "$model" "$from" ${transfer:+"$transfer"})" != yes ]; then
		echo "carry: $from was measured on other weights than those of $model${transfer:+ (transfer model $transfer)}; measuring again" >&2
		return 1
	fi
	cp "$from" "$out.tmp" && mv "$out.tmp" "$out"
	echo "carry: $out from $from"
}

# carry OUT: copy the finished OUT to CARRY.
carry() {
	local out=$1 to
	[ -n "${CARRY:-}" ] || return 0
	to=$CARRY/$(basename "$out")
	mkdir -p "$CARRY"
	cp "$out" "$to.tmp" && mv "$to.tmp" "$to"
}
