// Validate Argo Rollouts objects with @kubernetes-models/argo-rollouts (its JSON schemas).
// Usage: node argo_validate.cjs NODE_MODULES < objects.json ; prints a JSON list of {kind, name, error}.
const path = require("node:path");
const { readFileSync } = require("node:fs");
const models = path.resolve(process.argv[2], "@kubernetes-models", "argo-rollouts", "argoproj.io", "v1alpha1");
const kinds = {
  Rollout: require(path.join(models, "Rollout")).Rollout,
  AnalysisTemplate: require(path.join(models, "AnalysisTemplate")).AnalysisTemplate,
};
const results = [];
for (const object of JSON.parse(readFileSync(0, "utf8"))) {
  const Model = kinds[object.kind];
  if (!Model) {
    results.push({ kind: object.kind, name: object.metadata.name, error: "no model for this kind" });
    continue;
  }
  try {
    new Model(object).validate();
    results.push({ kind: object.kind, name: object.metadata.name, error: null });
  } catch (error) {
    results.push({ kind: object.kind, name: object.metadata.name, error: String(error.message || error) });
  }
}
process.stdout.write(JSON.stringify(results));
