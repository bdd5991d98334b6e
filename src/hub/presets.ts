// The short model names --model accepts (DESIGN.md, "Models to fit the design"): each maps to a
// Hugging Face repo of a pre-quantized 4-bit checkpoint. Families are config.json's model_type.

export interface ModelPreset {
  /** What users type: `--model qwen3-4b`. */
  name: string;
  /** Hugging Face repo id the preset downloads from. */
  repo: string;
  /** config.json model_type of the checkpoint. */
  family: string;
  description: string;
}

export const MODEL_PRESETS: readonly ModelPreset[] = [
  { name: 'llama-3.2-1b', repo: 'unsloth/Llama-3.2-1B-Instruct-bnb-4bit', family: 'llama', description: 'Llama 3.2 1B Instruct, bnb NF4' },
  { name: 'llama-3.2-3b', repo: 'unsloth/Llama-3.2-3B-Instruct-bnb-4bit', family: 'llama', description: 'Llama 3.2 3B Instruct, bnb NF4' },
  { name: 'gemma-3-1b', repo: 'unsloth/gemma-3-1b-it-unsloth-bnb-4bit', family: 'gemma3_text', description: 'Gemma 3 1B it, dynamic 4-bit (some layers bf16)' },
  {
    name: 'gemma-3-4b',
    repo: 'unsloth/gemma-3-4b-it-unsloth-bnb-4bit',
    family: 'gemma3',
    description: 'Gemma 3 4B it, dynamic 4-bit; the text part of a multimodal checkpoint',
  },
  { name: 'qwen3-1.7b', repo: 'unsloth/Qwen3-1.7B-unsloth-bnb-4bit', family: 'qwen3', description: 'Qwen3 1.7B, dynamic 4-bit (some layers bf16)' },
  { name: 'qwen3-4b', repo: 'unsloth/Qwen3-4B-unsloth-bnb-4bit', family: 'qwen3', description: 'Qwen3 4B, dynamic 4-bit (some layers bf16)' },
  { name: 'phi-4-mini', repo: 'unsloth/Phi-4-mini-instruct-unsloth-bnb-4bit', family: 'phi3', description: 'Phi-4-mini instruct, dynamic 4-bit' },
  { name: 'mistral-7b', repo: 'unsloth/mistral-7b-instruct-v0.3-bnb-4bit', family: 'mistral', description: 'Mistral 7B Instruct v0.3, bnb NF4' },
  { name: 'gemma-2-9b', repo: 'unsloth/gemma-2-9b-it-bnb-4bit', family: 'gemma2', description: 'Gemma 2 9B it, bnb NF4' },
];

export function findPreset(name: string): ModelPreset | undefined {
  return MODEL_PRESETS.find((p) => p.name === name);
}

export function presetNames(): string {
  return MODEL_PRESETS.map((p) => p.name).join(', ');
}
