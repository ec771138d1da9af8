// The official `openai` Node SDK, unchanged, pointed at the gateway.
// Usage: node chat.mjs <base_url>   (prints KEY=value lines checked by tests/it/sdk.rs)
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.argv[2], apiKey: "unused", maxRetries: 0 });

const stream = await client.chat.completions.create({
  model: "smart",
  stream: true,
  stream_options: { include_usage: true },
  messages: [{ role: "system", content: "be brief" }, { role: "user", content: "hi" }],
});
let text = "";
let usage = null;
for await (const chunk of stream) {
  text += chunk.choices[0]?.delta?.content ?? "";
  if (chunk.usage) usage = chunk.usage.completion_tokens;
}
const resp = await client.chat.completions.create({ model: "smart", messages: [{ role: "user", content: "hi" }] });
const emb = await client.embeddings.create({ model: "emb", input: ["a", "b"] });
const models = [];
for await (const m of client.models.list()) models.push(m.id);
let err = "none";
try {
  await client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "hi" }] });
} catch (e) {
  err = String(e.status);
}
console.log(`STREAM=${text}`);
console.log(`USAGE=${usage}`);
console.log(`TEXT=${resp.choices[0].message.content}`);
console.log(`EMB=${emb.data.length}x${emb.data[0].embedding.length}`);
console.log(`MODELS=${models.join(",")}`);
console.log(`ERR=${err}`);
