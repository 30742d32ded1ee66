# One study: fetch, train every model, attack each with the whole suite
# (sharded), score, report. Called by Makefile with DIR, BIN, DATASET,
# TRAIN_N, TEST_N, EPOCHS, STEPS, EPS, AT_STEPS, SWEEP_EPS, SQUARE_Q (queries
# of the Square attack), SHARDS.

MODELS  := plain fgsm pgd trades sgn sgn-fixed
ATTACKS := fgsm pgd pgd-strong pgd-cw apgd-dlr square transfer
SGN_ATTACKS := pgd-detached pgd-smooth
SHARD_IDS := $(shell seq 0 $$(($(SHARDS)-1)))
LIMIT_TRAIN := $(if $(filter 0,$(TRAIN_N)),,-limit $(TRAIN_N))
LIMIT_TEST  := $(if $(filter 0,$(TEST_N)),,-limit $(TEST_N))

TRAIN_FLAGS_plain     := -adv none
TRAIN_FLAGS_fgsm      := -adv fgsm
TRAIN_FLAGS_pgd       := -adv pgd -steps $(AT_STEPS)
TRAIN_FLAGS_trades    := -adv trades -steps $(AT_STEPS)
TRAIN_FLAGS_sgn       := -adv fgsm -sgn -sg-taps input -sg-gate learned
TRAIN_FLAGS_sgn-fixed := -adv fgsm -sgn -sg-taps input -sg-gate -0.1

ATTACK_FLAGS_fgsm         := -fgsm
ATTACK_FLAGS_pgd          := -pgd -steps $(STEPS)
ATTACK_FLAGS_pgd-strong   := -pgd -steps $(shell expr $(STEPS) \* 2) -restarts 2
ATTACK_FLAGS_pgd-cw       := -pgd -loss cw -steps $(STEPS) -restarts 2
ATTACK_FLAGS_apgd-dlr     := -apgd -loss dlr -steps $(STEPS)
ATTACK_FLAGS_square       := -square -steps $(SQUARE_Q)
ATTACK_FLAGS_transfer     := -pgd -steps $(STEPS) -transfer $(DIR)/plain.sgn
ATTACK_FLAGS_pgd-detached := -pgd -steps $(STEPS) -sg-grad detached
ATTACK_FLAGS_pgd-smooth   := -pgd -steps $(STEPS) -sg-surrogate 0.05

attacks_of = $(ATTACKS) $(if $(filter sgn%,$(1)),$(SGN_ATTACKS))

.PHONY: report
.SECONDARY:

$(DIR)/train.arrows:
	@mkdir -p $(DIR)
	$(BIN)/sgn-fetch $(LIMIT_TRAIN) $(DATASET) > $@.tmp && mv $@.tmp $@
$(DIR)/test.arrows:
	@mkdir -p $(DIR)
	$(BIN)/sgn-fetch -split test $(LIMIT_TEST) $(DATASET) > $@.tmp && mv $@.tmp $@

$(DIR)/%.sgn: $(DIR)/train.arrows
	$(BIN)/sgn-train -epochs $(EPOCHS) -eps $(EPS) $(TRAIN_FLAGS_$*) -log $(DIR)/$*.log.jsonl -data $< -o $@ 2> $(DIR)/$*.train.txt || { cat $(DIR)/$*.train.txt; exit 1; }
	@tail -n 1 $(DIR)/$*.train.txt

# $(DIR)/<model>.<attack>.<shard>.arrows
define attack_rule
$(DIR)/$(1).$(2).%.arrows: $(DIR)/$(1).sgn $(DIR)/test.arrows $(if $(filter transfer,$(2)),$(DIR)/plain.sgn)
	$(BIN)/sgn-attack -eps $(EPS) $(ATTACK_FLAGS_$(2)) -shard $$*/$(SHARDS) -model $(DIR)/$(1).sgn -data $(DIR)/test.arrows -o $$@
endef
$(foreach m,$(MODELS),$(foreach a,$(call attacks_of,$(m)),$(eval $(call attack_rule,$(m),$(a)))))

$(DIR)/%.score.json: $(DIR)/%.sgn $(DIR)/test.arrows
	$(BIN)/sgn-score -json -model $(DIR)/$*.sgn $(DIR)/test.arrows > $@

define model_rule
$(DIR)/$(1).robust.json: $(foreach a,$(call attacks_of,$(1)),$(foreach s,$(SHARD_IDS),$(DIR)/$(1).$(a).$(s).arrows))
	$(BIN)/sgn-score -json $$^ > $$@
$(DIR)/$(1).robust.md: $(foreach a,$(call attacks_of,$(1)),$(foreach s,$(SHARD_IDS),$(DIR)/$(1).$(a).$(s).arrows))
	$(BIN)/sgn-score -md $$^ > $$@
endef
$(foreach m,$(MODELS),$(eval $(call model_rule,$(m))))

# Accuracy against eps: PGD at further budgets, plotted with the main
# budget's PGD and the clean examples (for the image grid); its scores and
# masking checks (accuracy falling to zero at a large eps) go to
# <model>.sweep.json.
SWEEP_MODELS := plain fgsm sgn sgn-fixed
define sweep_rule
$(DIR)/$(1).$(2).sweep.arrows: $(DIR)/$(1).sgn $(DIR)/test.arrows
	$(BIN)/sgn-attack -pgd -eps $(2) -steps $(STEPS) -model $(DIR)/$(1).sgn -data $(DIR)/test.arrows -o $$@
endef
$(foreach m,$(SWEEP_MODELS),$(foreach e,$(SWEEP_EPS),$(eval $(call sweep_rule,$(m),$(e)))))
sweep_of = $(foreach e,$(SWEEP_EPS),$(DIR)/$(1).$(e).sweep.arrows)
define plot_rule
$(DIR)/$(1).png: $(DIR)/$(1).sgn $(call sweep_of,$(1)) $(foreach s,$(SHARD_IDS),$(DIR)/$(1).pgd.$(s).arrows)
	$(BIN)/sgn-score -json -plot $$@ $(DIR)/test.arrows $(call sweep_of,$(1)) $(foreach s,$(SHARD_IDS),$(DIR)/$(1).pgd.$(s).arrows) > $(DIR)/$(1).sweep.json.tmp && mv $(DIR)/$(1).sweep.json.tmp $(DIR)/$(1).sweep.json
endef
$(foreach m,$(SWEEP_MODELS),$(eval $(call plot_rule,$(m))))

report: $(DIR)/report.md
$(DIR)/report.md: $(foreach m,$(MODELS),$(DIR)/$(m).robust.json $(DIR)/$(m).robust.md $(DIR)/$(m).score.json) $(foreach m,$(SWEEP_MODELS),$(DIR)/$(m).png)
	cd $(ROOT) && go run ./pipelines/report $(abspath $(DIR)) $(MODELS) > $(abspath $@).tmp && mv $(abspath $@).tmp $(abspath $@)
	@cat $@
