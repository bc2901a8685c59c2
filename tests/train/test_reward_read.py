"""The reward read equals the reward head's own pooling on real tokenizers, and every consumer
(RM evaluation, PPO, RLOO/GRPO) scores the same rows the same way.

The SentencePiece-style Llama has pad == eos, so the head trained by trl's RewardTrainer pools at
the token before the closing EOS; a read at the EOS position (what PPO did) gives another number.
"""

import math

import pytest
import torch

from accord.train.chat import reward_token_ids
from accord.train.ppo.forward import rollout_scores
from accord.train.ppo.rollout import SamplingSettings, TransformersRollout
from accord.train.reward_read import RewardReader, pooled_positions, read_rewards
from accord.train.rm import load_reward_model
from accord.train.scoring import bt_calibration, score_texts

PROMPTS = [
    "What is the capital of France?",
    "Name a colour.",
    "Why is the sky blue? Explain in one sentence.",
]
ANSWERS = [
    " Paris is the capital.",
    " Blue.",
    " Air scatters short blue wavelengths of sunlight more.",
]
CONVERSATIONS = [[{"role": "user", "content": p}] for p in PROMPTS]


def head_pooling(model, tokenizer, sequences):
    """The model's own forward (transformers' pooling) on right-padded rows, one row at a time
    and batched: the reference the read must equal."""
    pad = tokenizer.pad_token_id
    width = max(len(s) for s in sequences)
    ids = torch.tensor([s + [pad] * (width - len(s)) for s in sequences])
    mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in sequences])
    with torch.no_grad():
        batched = model(input_ids=ids, attention_mask=mask).logits[:, 0]
        single = torch.stack([model(input_ids=torch.tensor([s])).logits[0, 0] for s in sequences])
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-5)
    return batched


def value_at_last_token(model, sequences):
    """The head read at each row's last token (its EOS): the old PPO read."""
    with torch.no_grad():
        out = []
        for s in sequences:
            hidden = model.model(input_ids=torch.tensor([s])).last_hidden_state
            out.append(model.score(hidden[0, -1]).squeeze())
    return torch.stack(out)


@pytest.fixture(scope="module")
def sp_reward(sp_llama_reward_dir):
    return load_reward_model(str(sp_llama_reward_dir))


@pytest.fixture(scope="module")
def tiny_reward(tiny_reward_model_dir):
    return load_reward_model(str(tiny_reward_model_dir))


@pytest.mark.parametrize("which", ["sp", "tiny"])
def test_read_equals_the_heads_own_pooling(which, sp_reward, tiny_reward):
    model, tokenizer = sp_reward if which == "sp" else tiny_reward
    sequences = [reward_token_ids(tokenizer, p, a) for p, a in zip(PROMPTS, ANSWERS)]
    expected = head_pooling(model, tokenizer, sequences)
    read = read_rewards(model, tokenizer, PROMPTS, ANSWERS, batch_size=2)
    torch.testing.assert_close(read, expected, atol=1e-5, rtol=1e-5)
    if which == "sp":
        # pad == eos: the head never trained on the EOS position, so reading there is wrong
        assert tokenizer.pad_token_id == tokenizer.eos_token_id
        assert all(s[-1] == tokenizer.eos_token_id for s in sequences)
        assert not torch.allclose(value_at_last_token(model, sequences), expected, atol=1e-3)


def test_reward_rendering_is_trls(sp_reward):
    """Text: BOS from the tokenizer, EOS appended once; messages: the template's own BOS only."""
    _, tokenizer = sp_reward
    plain = reward_token_ids(tokenizer, PROMPTS[0], ANSWERS[0])
    assert plain[0] == tokenizer.bos_token_id and plain.count(tokenizer.bos_token_id) == 1
    assert plain[-1] == tokenizer.eos_token_id and plain.count(tokenizer.eos_token_id) == 1
    assert reward_token_ids(tokenizer, PROMPTS[0], ANSWERS[0] + tokenizer.eos_token) == plain
    chat = reward_token_ids(tokenizer, CONVERSATIONS[0], ANSWERS[0].strip())
    expected = tokenizer.apply_chat_template(
        [*CONVERSATIONS[0], {"role": "assistant", "content": ANSWERS[0].strip()}],
        tokenize=True,
        return_dict=True,
    )["input_ids"]
    assert chat == list(expected) and chat.count(tokenizer.bos_token_id) == 1


def test_unfinished_completions_are_not_closed(sp_reward):
    """A completion cut at the length limit gets no EOS and no closed turn."""
    _, tokenizer = sp_reward
    assert (
        reward_token_ids(tokenizer, PROMPTS[0], ANSWERS[0], finished=False)
        == tokenizer(PROMPTS[0] + ANSWERS[0])["input_ids"]
    )
    open_turn = reward_token_ids(tokenizer, CONVERSATIONS[0], "Paris", finished=False)
    assert open_turn[-1] != tokenizer.eos_token_id
    assert reward_token_ids(tokenizer, CONVERSATIONS[0], "Paris")[:-1] == open_turn


def test_conversational_read_equals_head_pooling(sp_reward):
    model, tokenizer = sp_reward
    answers = [a.strip() for a in ANSWERS]
    sequences = [reward_token_ids(tokenizer, c, a) for c, a in zip(CONVERSATIONS, answers)]
    torch.testing.assert_close(
        read_rewards(model, tokenizer, CONVERSATIONS, answers),
        head_pooling(model, tokenizer, sequences),
        atol=1e-5,
        rtol=1e-5,
    )


def test_pooled_positions_with_left_and_right_padding():
    ids = torch.tensor([[2, 2, 5, 6, 2], [5, 6, 7, 8, 9]])
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    assert pooled_positions(ids, mask, pad_token_id=2).tolist() == [3, 4]
    assert pooled_positions(ids, mask, pad_token_id=None).tolist() == [4, 4]


@pytest.mark.parametrize("conversational", [False, True])
def test_ppo_and_group_trainers_score_the_same_rows_the_same(
    conversational, sp_llama_dir, sp_reward
):
    """PPO's rollout scores and the reward function RLOO/GRPO get from trl agree exactly, and
    both equal the head's own pooling on the RM-training rendering."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, reward_tokenizer = sp_reward
    tokenizer = AutoTokenizer.from_pretrained(sp_llama_dir)
    policy = AutoModelForCausalLM.from_pretrained(sp_llama_dir)
    prompts = CONVERSATIONS if conversational else PROMPTS
    torch.manual_seed(0)
    batch = TransformersRollout(tokenizer, SamplingSettings(max_new_tokens=8), 64).generate(
        policy, prompts
    )
    reader = RewardReader(model, reward_tokenizer, batch_size=2)
    ppo = rollout_scores(reader, tokenizer, prompts, batch)
    # trl hands reward functions the decoded completions (assistant messages for conversations)
    texts = tokenizer.batch_decode(
        batch.response_ids.masked_fill(batch.response_mask == 0, tokenizer.pad_token_id),
        skip_special_tokens=True,
    )
    completions = (
        [[{"role": "assistant", "content": t}] for t in texts] if conversational else texts
    )
    completion_ids = [
        ids[m.bool()].tolist() for ids, m in zip(batch.response_ids, batch.response_mask)
    ]
    group = reader.as_reward_function(tokenizer.eos_token_id)(
        prompts=prompts, completions=completions, completion_ids=completion_ids
    )
    assert ppo.tolist() == group
    sequences = [
        reward_token_ids(reward_tokenizer, p, c, finished=f)
        for p, c, f in zip(prompts, completions, batch.contains_eos.tolist())
    ]
    torch.testing.assert_close(
        ppo, head_pooling(model, reward_tokenizer, sequences), atol=1e-5, rtol=1e-5
    )


def test_score_texts_drops_over_long_pairs_instead_of_cutting_eos(sp_reward):
    model, tokenizer = sp_reward
    limit = len(reward_token_ids(tokenizer, PROMPTS[1], ANSWERS[1]))
    scores = score_texts(model, tokenizer, PROMPTS, ANSWERS, max_length=limit)
    assert math.isnan(scores[0]) and math.isnan(scores[2]) and not math.isnan(scores[1])
    assert scores[1] == pytest.approx(
        read_rewards(model, tokenizer, PROMPTS[1:2], ANSWERS[1:2])[0].item()
    )
    calibration = bt_calibration(scores.tolist(), [0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    assert calibration["n"] == 1 and calibration["dropped"] == 2


def test_heldout_accuracy_treats_ties_and_undecided_labels_explicitly():
    c = bt_calibration(
        [1.0, 0.0, 2.0, -1.0, 5.0], [0.0, 0.0, 0.0, 0.0, 0.0], [0.9, 1.0, 0.52, 0.2, 0.5]
    )
    # pair 1 right, pair 2 an exact tie (½), pair 4 rejected preferred and ranked so (right);
    # labels 0.52 and 0.5 state no preference: out of the accuracy, counted
    assert c["accuracy"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert (c["n"], c["n_decided"], c["undecided_labels"], c["reward_ties"]) == (5, 3, 2, 1)
    assert bt_calibration([1.0], [0.0], [0.52], label_band=0.0)["accuracy"] == 1.0
    assert math.isnan(bt_calibration([1.0], [0.0], [0.5])["accuracy"])
    with pytest.raises(ValueError, match="label_band"):
        bt_calibration([1.0], [0.0], [1.0], label_band=0.5)
