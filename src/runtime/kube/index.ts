export { renderPlatform, renderPlatformDocuments } from './render.ts';
export { placeholderWarnings } from './placeholders.ts';
export { canonical, sortObjects, toYaml, type KubeObject, type ObjectMeta, type Rendered } from './objects.ts';
export { kubePeers, labels, PLATFORM_LABEL, renderContext, type RenderContext } from './context.ts';
export { generatedSecretValues, podConfigInput, workloadConfigFiles } from './configs.ts';
export { mailPlatformCrd, MAILPLATFORM_GROUP, MAILPLATFORM_PLURAL, MAILPLATFORM_VERSION, STATUS_SCHEMA, structuralSchema } from './crd.ts';
export { CONTROLLER_RULES, LEASE_NAME, MAILFLEET_UID } from './controller.ts';
export { fileNameOf, isRenderedFileName, renderFiles } from './files.ts';
export { DKIM_COMPONENT, dkimSecret, dkimSecretName, dkimVolume } from './dkim.ts';
