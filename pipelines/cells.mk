# A study defined by a file of cells (studies/STUDY.tsv): each cell is
# trained with numbered checkpoints along the way, every checkpoint is
# scored under the curve's attack set, the final model under the full set
# and an eps sweep (and, for headline and baseline cells, the curve's best
# checkpoint under AutoAttack's suite: best.sh), and the cell's result is
# written, small and final, to
# docs/results/STUDY/cells/CELL.json. Called by Makefile with STUDY, DIR,
# BIN, ROOT, RESULTS and the study's settings:
#
#   EPS          the threat model's budget (L-inf, pixel units)
#   TRAIN_N      training images (an epoch is TRAIN_N/128 steps)
#   TEST_N       test images every evaluation uses (the first TEST_N)
#   CURVE_STEPS  iterations of each curve attack
#   FINAL_STEPS  iterations of each final attack
#   SQUARE_Q     queries of the final Square attack
#   SUITE_Q      queries of the suite's Square attack (AutoAttack's 5,000)
#   SWEEP_EPS    further budgets of the eps sweep
#   FINAL_SHARDS shards of the test examples the final evaluation is cut
#                into (4), each a unit of its own
#   FOLLOW       1 (the default): score a cell's checkpoints while it
#                trains, at the lowest priority (follow.sh); 0: after
#   EVAL_JOBS    evaluation units of a cell run at once, each a process on
#                one core (GOMAXPROCS=1); 1 (the default): one at a time,
#                on every core
#   CELLS        the cells to run (default: every cell of the study file)
#
# Make's usual rule applies: what is done is skipped, a training cut short
# resumes from its last checkpoint. Across machines, each finished unit of
# a cell (a curve point, a shard of the final evaluation, a sweep point,
# the best checkpoint's suite) is also copied to RESULTS/partial/CELL/ and
# committed; a run on a fresh machine retrains the cell, the same bit for
# bit (the kernels are pinned to AVX2, below), and takes every unit from
# there whose weights match the retrained checkpoint's (carry.sh). The
# cell's result replaces its partial/ directory. Besides `cells`, two targets serve a
# batch scheduler (slurm/run): `plan` prints one line per cell (the cell,
# the cell its transfer attack comes from or -, its evaluation targets,
# those that must run in one job joined by commas, and the target that
# needs all of them, best.json, or -), and `report` writes
# RESULTS/report.md from the cell results there; `calibration` measures
# each method's cost per training step on this machine into
# RESULTS/calibration.json, which the report reads when it is there, and
# `calibration-pytorch` the same in PyTorch into calibration-pytorch.json.

STUDY_FILE := $(ROOT)/pipelines/studies/$(STUDY).tsv
FINAL_SHARDS ?= 4
FOLLOW     ?= 1
EVAL_JOBS  ?= 1
SHARD_IDS  := $(shell seq 0 $$(($(FINAL_SHARDS) - 1)))

# The AVX2 kernels on every x86-64 CPU, AVX-512 or not: a cell retrained
# anywhere then has the same weights, which carried units need. (Without
# AVX2 and FMA the kernels are Go's, the weights differ, and carried units
# are measured again.)
export SGN_KERNELS := avx2
ALL_CELLS  := $(shell awk -F'\t' '!/^\#/ && NF {print $$1}' $(STUDY_FILE))
CELLS      ?= $(ALL_CELLS)
# field CELL,COLUMN: one column of a cell's row.
field = $(shell awk -F'\t' -v c='$(1)' '$$1 == c {print $$$(2)}' $(STUDY_FILE))
BATCHES     = $(shell expr $(TRAIN_N) / 128)

POINT  := $(ROOT)/pipelines/point.sh
FINAL  := $(ROOT)/pipelines/final.sh
BEST   := $(ROOT)/pipelines/best.sh
STUDYC := $(BIN)/sgn-study

.PHONY: cells plan report calibration calibration-pytorch status
# Every file is secondary: a cell whose result exists is done even where
# out/ lacks its checkpoints and streams (a fresh clone has only the
# committed results). To redo part of a cell, delete its result as well.
.SECONDARY:
.DELETE_ON_ERROR:

cells: $(foreach c,$(CELLS),$(RESULTS)/cells/$(c).json)

plan:
	@$(foreach c,$(CELLS),printf '%s\t%s\t%s\t%s\n' '$(c)' '$(call field,$(c),8)' '$(strip $($(c)_eval))' '$(or $($(c)_best),-)';)

report:
	$(STUDYC) report -study $(STUDY_FILE) -results $(RESULTS)

# status: a line per cell, done or how far its training and each kind of
# its evaluation units have come (status.sh), from the files alone.
status:
	@$(foreach c,$(CELLS),bash $(ROOT)/pipelines/status.sh '$(c)' $(RESULTS)/cells/$(c).json $(DIR)/$(c) $($(c)_carry) \
		$$(( $($(c)_epochs) * $(BATCHES) )) $(foreach u,$($(c)_points),curve=$(u)) \
		$(foreach u,$(or $($(c)_shards),$(DIR)/$(c)/final.json),final=$(u)) $(foreach u,$($(c)_sweeps),sweep=$(u)) \
		$(foreach u,$($(c)_best),best=$(u));)

# Each method's cost per training step on this machine (calibrate.sh),
# measured anew whenever asked: the report's speed on one machine; and
# the same in PyTorch, which the report sets beside it.
calibration:
	BIN=$(BIN) bash $(ROOT)/pipelines/calibrate.sh $(STUDY_FILE) $(STUDY_DATASET) $(EPS) $(DIR)/calibration $(RESULTS)/calibration.json
calibration-pytorch:
	BIN=$(BIN) CALIBRATE_WITH=pytorch bash $(ROOT)/pipelines/calibrate.sh $(STUDY_FILE) $(STUDY_DATASET) $(EPS) $(DIR)/calibration-pytorch $(RESULTS)/calibration-pytorch.json

$(DIR)/train.arrow:
	@mkdir -p $(DIR)
	$(BIN)/sgn-fetch -limit $(TRAIN_N) $(STUDY_DATASET) > $@.tmp && mv $@.tmp $@
$(DIR)/test.arrow:
	@mkdir -p $(DIR)
	$(BIN)/sgn-fetch -split test -limit $(TEST_N) $(STUDY_DATASET) > $@.tmp && mv $@.tmp $@

# train_rules CELL: the training run.
define train_rules
$(1)_flags    := $(call field,$(1),9)
$(1)_seed     := $(call field,$(1),5)
$(1)_epochs   := $(call field,$(1),6)
$(1)_every    := $(call field,$(1),7)

# The training run; model.sgn is rewritten every epoch, so "trained" marks
# the end. A run cut short resumes from model.sgn. With FOLLOW=1 (the
# default), a cell still to be done has its checkpoints scored while it
# trains, on the cycles the training leaves idle (follow.sh).
$(DIR)/$(1)/trained: $(DIR)/train.arrow $(if $(filter 1,$(FOLLOW)),$(DIR)/test.arrow)
	@mkdir -p $(DIR)/$(1)
	cd $(DIR)/$(1) && { if [ -f model.sgn ]; then \
		$(BIN)/sgn-train -resume model.sgn -data $(DIR)/train.arrow -save-every $$($(1)_every) -log log.jsonl 2>> train.txt & \
	else \
		$(BIN)/sgn-train -data $(DIR)/train.arrow -eps $(EPS) -seed $$($(1)_seed) -epochs $$($(1)_epochs) \
			-save-every $$($(1)_every) -log log.jsonl -o model.sgn $$($(1)_flags) 2> train.txt & \
	fi; training=$$$$!; \
	$(if $(filter 1,$(FOLLOW)),[ -f $(RESULTS)/cells/$(1).json ] || BIN=$(BIN) CARRY=$(RESULTS)/partial/$(1) \
		chrt --idle 0 bash $(ROOT)/pipelines/follow.sh $$$$training $(DIR)/test.arrow $(EPS) $(CURVE_STEPS);) \
	wait $$$$training; } || { tail -n 3 $(DIR)/$(1)/train.txt; exit 1; }
	@tail -n 1 $(DIR)/$(1)/train.txt
	touch $$@
endef

# cell_rules CELL: curve points, final evaluation, result.
define cell_rules
$(1)_carry    := $(RESULTS)/partial/$(1)
# With EVAL_JOBS above 1 the units wait for `evaluated` (below), whose make
# builds them, so that under make -j this make does not build them too.
$(1)_after    := $(if $(filter-out 1,$(EVAL_JOBS)),$(DIR)/$(1)/evaluated)
$(1)_steps    := $$(shell seq $$($(1)_every) $$($(1)_every) $$$$(( $$($(1)_epochs) * $(BATCHES) - 1 )) | xargs printf '%07d ')
$(1)_points   := $$(foreach s,$$($(1)_steps),$(DIR)/$(1)/point-$$(s).json) $(DIR)/$(1)/point-final.json

$(DIR)/$(1)/point-%.json: $(DIR)/$(1)/trained $(DIR)/test.arrow | $$($(1)_after)
	BIN=$(BIN) CARRY=$$($(1)_carry) bash $(POINT) $(DIR)/$(1)/model-step$$*.sgn $(DIR)/test.arrow $(EPS) $(CURVE_STEPS) $$@
$(DIR)/$(1)/point-final.json: $(DIR)/$(1)/trained $(DIR)/test.arrow | $$($(1)_after)
	BIN=$(BIN) CARRY=$$($(1)_carry) bash $(POINT) $(DIR)/$(1)/model.sgn $(DIR)/test.arrow $(EPS) $(CURVE_STEPS) $$@

# A pilot cell's final evaluation is its curve's last point (it only
# chooses the headline reading); every other cell's is final.sh's, with
# AutoAttack's standard suite for the cells the verdict reads (headline and
# baseline), without it for ablations.
ifeq ($(call field,$(1),4),pilot)
$(1)_eval := $$(filter-out $(DIR)/$(1)/point-final.json,$$($(1)_points)) $(DIR)/$(1)/point-final.json,$(DIR)/$(1)/final.json
$(DIR)/$(1)/final.json: $(DIR)/$(1)/point-final.json
	cp $$< $$@.tmp && mv $$@.tmp $$@
else
$(1)_shards   := $(foreach i,$(SHARD_IDS),$(DIR)/$(1)/final-$(i)-of-$(FINAL_SHARDS).json)
$(1)_sweeps   := $(foreach e,$(SWEEP_EPS),$(DIR)/$(1)/sweep-$(e).json)
$(1)_eval := $$($(1)_points) $$($(1)_shards) $$($(1)_sweeps)
$(DIR)/$(1)/final-%.json: $(DIR)/$(1)/trained $(DIR)/test.arrow $(if $(filter-out -,$(call field,$(1),8)),$(DIR)/$(call field,$(1),8)/trained) | $$($(1)_after)
	BIN=$(BIN) CARRY=$$($(1)_carry) SUITE_QUERIES=$(or $(SUITE_Q),5000) SUITE=$(if $(filter headline baseline,$(call field,$(1),4)),standard,none) \
		bash $(FINAL) $(DIR)/$(1) $(DIR)/test.arrow $(EPS) $(FINAL_STEPS) $(SQUARE_Q) $$* \
		$(if $(filter-out -,$(call field,$(1),8)),$(DIR)/$(call field,$(1),8)/model.sgn)
$(DIR)/$(1)/final.json: $$($(1)_shards)
	$(STUDYC) merge $$^ > $$@.tmp && mv $$@.tmp $$@
# Each further eps of SWEEP_EPS: the curve's attack set at half the final
# evaluation's iterations.
$(DIR)/$(1)/sweep-%.json: $(DIR)/$(1)/trained $(DIR)/test.arrow | $$($(1)_after)
	BIN=$(BIN) CARRY=$$($(1)_carry) bash $(POINT) $(DIR)/$(1)/model.sgn $(DIR)/test.arrow $$* $$$$(( $(FINAL_STEPS) / 2 )) $$@
endif

# Early stopping's model (the curve's best checkpoint) under the suite too,
# for the cells whose final evaluation has it: a curve's peak is only as
# real as the attacks that drew it.
ifneq ($(filter headline baseline,$(call field,$(1),4)),)
$(1)_best := $(DIR)/$(1)/best.json
$(DIR)/$(1)/best.json: $$($(1)_points) $(DIR)/$(1)/final.json
	BIN=$(BIN) CARRY=$$($(1)_carry) SUITE_QUERIES=$(or $(SUITE_Q),5000) SUITE_SHARDS=$(FINAL_SHARDS) bash $(BEST) $(DIR)/$(1) $(DIR)/test.arrow $(EPS) $(FINAL_STEPS)
# The suite's streams on the best checkpoint alone (none when it is the
# final model), which need no final evaluation: the make of `evaluated`
# runs them beside the final shards.
.PHONY: $(DIR)/$(1)/best-streams
$(DIR)/$(1)/best-streams: $$($(1)_points) | $$($(1)_after)
	BIN=$(BIN) CARRY=$$($(1)_carry) SUITE_QUERIES=$(or $(SUITE_Q),5000) SUITE_SHARDS=$(FINAL_SHARDS) BEST_STREAMS_ONLY=1 bash $(BEST) $(DIR)/$(1) $(DIR)/test.arrow $(EPS) $(FINAL_STEPS)
endif

# With EVAL_JOBS above 1, the cell's evaluation units (the curve points
# left, the final shards, the sweep points, the best checkpoint's suite)
# run EVAL_JOBS at a time, one core each, in makes of their own; the rules
# above then find them done. One attack process on two cores kept them
# three quarters busy (an SGN's final shard: 155% of a CPU), two on one
# core each keep both busy, with the same results bit for bit
# (engine.TestOracleWorkers). Under make -j, the units share its jobs.
# Two makes, longest units first: the curve points left with EVAL_JOBS
# of the final shards left beside them, then the best checkpoint's suite,
# which needs every point, the other shards and the short sweep points,
# which fill the cores at the end. In one make, the best checkpoint's
# suite was left to the end and ran alone on one core; with one shard in
# the first make, or shards already done, a shard ran alone where the
# points had all been scored while the cell trained.
$(DIR)/$(1)/evaluated: $(DIR)/$(1)/trained $(DIR)/test.arrow $(if $(filter-out -,$(call field,$(1),8)),$(DIR)/$(call field,$(1),8)/trained)
	+$(if $(filter-out 1,$(EVAL_JOBS)),$$(call eval_make,$$($(1)_points) $$(call first_shards,$(1))) && \
		$$(call eval_make,$$(if $$($(1)_best),$(DIR)/$(1)/best-streams) $$(filter-out $$(call first_shards,$(1)),$$($(1)_shards)) $$($(1)_sweeps)))
	touch $$@

$(RESULTS)/cells/$(1).json: $(DIR)/$(1)/trained $(DIR)/$(1)/evaluated $$($(1)_points) $(DIR)/$(1)/final.json $$($(1)_sweeps) $$($(1)_best)
	@mkdir -p $(RESULTS)/cells
	$(STUDYC) cell -study $(STUDY_FILE) -cell $(1) -dir $(DIR)/$(1) > $$@.tmp && mv $$@.tmp $$@
	rm -rf $$($(1)_carry)
	rmdir --ignore-fail-on-non-empty $(RESULTS)/partial 2>/dev/null || true
endef
# first_shards CELL: the first EVAL_JOBS of the cell's final shards not
# yet measured here (a shard carried from partial/ counts as left: taking
# it back takes seconds).
first_shards = $(wordlist 1,$(EVAL_JOBS),$(filter-out $(wildcard $($(1)_shards)),$($(1)_shards)))
# eval_make TARGETS: a make of a cell's evaluation units, EVAL_JOBS at a
# time (or the parent's jobs under make -j), each on one core; true for
# none (a make without targets would make the default, every cell). The
# recipe line that calls it starts with +: make knows a recursive make by
# a literal $(MAKE) only, and gives its jobs to the lines so marked.
eval_make = $(if $(strip $(1)),GOMAXPROCS=1 $(MAKE) --no-print-directory -f $(ROOT)/pipelines/cells.mk $(if $(filter -j%,$(MAKEFLAGS)),,-j$(EVAL_JOBS)) EVAL_JOBS=1 $(strip $(1)),true)
# Trained are the cells to run and the sources of their transfer attacks.
TRAINED := $(sort $(CELLS) $(filter-out -,$(foreach c,$(CELLS),$(call field,$(c),8))))
$(foreach c,$(TRAINED),$(eval $(call train_rules,$(c))))
$(foreach c,$(CELLS),$(eval $(call cell_rules,$(c))))
